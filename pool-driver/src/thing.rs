//! A handle on one Thing: its properties, actions and events by name, each one of the pool's
//! requests or subscriptions underneath (same deadlines, cancellation and errors), and its
//! Thing Description.
//!
//! Invariants:
//! * a handle holds no state of its own but its Description: every call goes through the pool,
//!   so handles are cheap, clone freely and never go stale when the pool changes;
//! * with a Description ([`Thing::checked`], [`Thing::with_description`]) every call is checked
//!   against it first, and a name it rules out fails locally, before any request, naming the
//!   names that exist; without one, nothing is checked and the server answers.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::description::ThingDescription;
use crate::error::Error;
use crate::pool::Pool;
use crate::reply::Reply;
use crate::request::{operation, Request};
use crate::server_info::Protocol;
use crate::subscription::Subscription;
use crate::Runtime;

/// The action hololinked's servers answer with a Thing Description (a special case of the
/// server, not one of the Thing's actions).
pub const GET_THING_DESCRIPTION: &str = "get_thing_description";

/// A Thing of the pool, by name ([`Pool::thing`]).
///
/// ```no_run
/// # async fn example<Rt: pool_driver::Runtime>(pool: pool_driver::Pool<Rt>) -> Result<(), pool_driver::Error> {
/// // Fetch the Thing Description once; from then on names are checked locally.
/// let spectrometer = pool.thing("spectrometer").checked().await?;
/// for (name, property) in &spectrometer.description().unwrap().properties {
///     println!("{name}: {}{}", property.schema, if property.read_only { " (read-only)" } else { "" });
/// }
/// // A typo fails here, naming the properties that exist, without a request.
/// assert!(spectrometer.read::<f64>("integraton_time").await.is_err());
/// # Ok(()) }
/// ```
pub struct Thing<Rt: Runtime> {
    pool: Pool<Rt>,
    id: String,
    description: Option<Arc<ThingDescription>>,
}

impl<Rt: Runtime> Clone for Thing<Rt> {
    fn clone(&self) -> Self {
        Thing {
            pool: self.pool.clone(),
            id: self.id.clone(),
            description: self.description.clone(),
        }
    }
}

/// The Thing's id, its pool, and what its Description holds (counts, not the Description).
impl<Rt: Runtime> std::fmt::Debug for Thing<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Thing");
        out.field("id", &self.id).field("pool", &self.pool);
        match &self.description {
            Some(d) => out
                .field("properties", &d.properties.len())
                .field("actions", &d.actions.len())
                .field("events", &d.events.len()),
            None => out.field("description", &None::<()>),
        };
        out.finish_non_exhaustive()
    }
}

impl<Rt: Runtime> Pool<Rt> {
    /// A handle on `thing`: its properties, actions and events by name, and its Thing
    /// Description ([`Thing::describe`]). Cheap; the pool is asked only when the handle is used,
    /// so a Thing the pool does not have fails then, with [`Error::UnknownThing`].
    ///
    /// ```no_run
    /// # async fn example<Rt: pool_driver::Runtime>(pool: pool_driver::Pool<Rt>) -> Result<(), pool_driver::Error> {
    /// let spectrometer = pool.thing("spectrometer");
    /// let t: f64 = spectrometer.read("integration_time").await?;
    /// spectrometer.write("integration_time", &(t * 2.0)).await?;
    /// let spectrum: Vec<f64> = spectrometer.invoke("acquire", &serde_json::json!({"n": 10})).await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn thing(&self, thing: &str) -> Thing<Rt> {
        Thing {
            pool: self.clone(),
            id: thing.to_owned(),
            description: None,
        }
    }
}

impl<Rt: Runtime> Thing<Rt> {
    // ----- getters ----------------------------------------------------------------------------

    /// The Thing id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pool the handle sends through.
    #[must_use]
    pub fn pool(&self) -> &Pool<Rt> {
        &self.pool
    }

    /// The Description calls are checked against, if the handle has one.
    #[must_use]
    pub fn description(&self) -> Option<&ThingDescription> {
        self.description.as_deref()
    }

    // ----- the Description --------------------------------------------------------------------

    /// Fetches the Thing Description from the Thing's server (`get_thing_description`, for the
    /// protocol of the server's endpoint, so its forms name that endpoint) and parses it.
    pub async fn describe(&self) -> Result<ThingDescription, Error> {
        let reply = self.describe_reply().await?;
        ThingDescription::from_json(reply.payload()).map_err(|e| match e {
            Error::Decode {
                content_type,
                message,
                ..
            } => Error::Decode {
                thing: self.id.clone(),
                content_type,
                message,
            },
            other => other,
        })
    }

    /// The Thing Description as the server sent it (JSON), unparsed.
    pub async fn describe_json(&self) -> Result<serde_json::Value, Error> {
        self.describe_reply().await?.json()
    }

    async fn describe_reply(&self) -> Result<Reply, Error> {
        let endpoint = self
            .pool
            .endpoint_of(&self.id)
            .ok_or_else(|| self.unknown())?;
        let protocol = Protocol::of(&endpoint).unwrap_or(Protocol::Tcp);
        let kwargs = serde_json::json!({"protocol": protocol.as_str(), "ignore_errors": true});
        self.pool
            .call(Request::invoke_action(&self.id, GET_THING_DESCRIPTION).kwargs(&kwargs))
            .await
    }

    /// This handle with its Description fetched ([`describe`](Self::describe)): every later
    /// call is checked against it.
    pub async fn checked(self) -> Result<Thing<Rt>, Error> {
        let description = self.describe().await?;
        Ok(self.with_description(description))
    }

    /// This handle checking every call against `description` (fetched before, or built by
    /// hand).
    #[must_use]
    pub fn with_description(mut self, description: ThingDescription) -> Thing<Rt> {
        self.description = Some(Arc::new(description));
        self
    }

    // ----- requests ---------------------------------------------------------------------------

    /// Reads `property`, decoded as its reply's content type says (JSON or msgpack).
    pub async fn read<T: DeserializeOwned>(&self, property: &str) -> Result<T, Error> {
        self.call(Request::read_property(&self.id, property))
            .await?
            .decode()
    }

    /// Writes `property` (the value as JSON).
    pub async fn write<T: Serialize + ?Sized>(
        &self,
        property: &str,
        value: &T,
    ) -> Result<(), Error> {
        self.call(Request::write_property(&self.id, property).json(value))
            .await
            .map(drop)
    }

    /// Invokes `action` with keyword arguments (a JSON object, or `()` for none) and decodes its
    /// return value (`()` or `serde_json::Value` when it returns nothing of interest).
    pub async fn invoke<R: DeserializeOwned>(
        &self,
        action: &str,
        kwargs: &(impl Serialize + ?Sized),
    ) -> Result<R, Error> {
        self.call(Request::invoke_action(&self.id, action).kwargs(kwargs))
            .await?
            .decode()
    }

    /// Reads every property at once (`readallproperties`): `{name: value}`.
    pub async fn read_all(&self) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        self.call(Request::read_all_properties(&self.id))
            .await?
            .decode()
    }

    /// Sends `request` to this Thing (its own Thing is replaced), checked against the
    /// Description if the handle has one: for requests with their own deadlines, execution
    /// logs, msgpack payloads, oneway, ...
    pub async fn call(&self, request: Request) -> Result<Reply, Error> {
        let request = request.to_thing(self.id.clone());
        self.check(&request)?;
        self.pool.call(request).await
    }

    // ----- events -----------------------------------------------------------------------------

    /// Subscribes to `event` ([`Pool::subscribe_event`]).
    pub fn subscribe(&self, event: &str) -> Result<Subscription, Error> {
        if let Some(td) = self.description() {
            td.check_event(&self.id, event)?;
        }
        self.pool.subscribe_event(&self.id, event)
    }

    /// Observes `property`: one item per change ([`Pool::observe_property`]).
    pub fn observe(&self, property: &str) -> Result<Subscription, Error> {
        if let Some(td) = self.description() {
            td.check_observe(&self.id, property)?;
        }
        self.pool.observe_property(&self.id, property)
    }

    // ----- helpers ----------------------------------------------------------------------------

    /// Checks `request` against the Description, if there is one.
    fn check(&self, request: &Request) -> Result<(), Error> {
        let (Some(td), Some(name)) = (self.description(), request.objekt()) else {
            return Ok(());
        };
        match request.operation() {
            operation::READ_PROPERTY => td.check_read(&self.id, name),
            operation::WRITE_PROPERTY => td.check_write(&self.id, name),
            operation::INVOKE_ACTION if name == GET_THING_DESCRIPTION => Ok(()),
            operation::INVOKE_ACTION => td.check_invoke(&self.id, name),
            _ => Ok(()),
        }
    }

    fn unknown(&self) -> Error {
        let known = self.pool.things();
        Error::unknown_thing(&self.id, known.iter().map(String::as_str))
    }
}
