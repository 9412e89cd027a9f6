//! `DealerSender::try_send` (mmpool patch): enqueues without waiting once the socket has its
//! one peer, gives the message back before, and keeps order with `send`.

use crate::prelude::*;
use crate::{DealerSocket, RouterSocket, ZmqMessage};

fn body(message: &ZmqMessage) -> Vec<u8> {
    // A ROUTER sees [identity, ...frames]: the last frame is the body.
    message
        .iter()
        .last()
        .map(|f| f.to_vec())
        .unwrap_or_default()
}

#[tokio::test]
async fn try_send_gives_the_message_back_until_connected_then_keeps_order_with_send() {
    let mut router = RouterSocket::new();
    let endpoint = router.bind("tcp://127.0.0.1:0").await.unwrap();

    let dealer = DealerSocket::new();
    let (send, _recv) = dealer.split();
    let direct = send.sender();
    let back = direct
        .try_send(ZmqMessage::from("early"))
        .expect_err("no peer yet: the message comes back");
    assert_eq!(back.get(0).map(|f| f.to_vec()), Some(b"early".to_vec()));
    drop((send, _recv, direct));

    let mut dealer = DealerSocket::new();
    dealer.connect(&endpoint.to_string()).await.unwrap();
    let (mut send, _recv) = dealer.split();
    let direct = send.sender();
    direct.try_send(ZmqMessage::from("one")).unwrap();
    send.send(ZmqMessage::from("two")).await.unwrap();
    direct.clone().try_send(ZmqMessage::from("three")).unwrap();
    for expected in ["one", "two", "three"] {
        let message = router.recv().await.unwrap();
        assert_eq!(body(&message), expected.as_bytes());
    }
}
