//! A stream ends at its first decode or I/O error, except for an unknown command; so a broken
//! peer is dropped and reported disconnected instead of yielding the same error forever.

use super::*;

fn reader(input: Vec<u8>, options: SocketOptions) -> ZmqFramedRead {
    ZmqFramedRead::new(Box::new(Cursor::new(input)), Arc::new(options))
}

fn greeting() -> Vec<u8> {
    BytesMut::from(ZmqGreeting::default()).to_vec()
}

#[async_rt::test]
async fn an_oversized_frame_is_reported_once_then_the_stream_ends() {
    let mut input = greeting();
    input.push(0b0000_0010);
    input.extend_from_slice(&(1u64 << 40).to_be_bytes());
    input.extend_from_slice(&[0, 1, b'x']);
    let mut options = SocketOptions::default();
    options.max_message_size(1024);
    let mut reader = reader(input, options);
    assert!(matches!(
        reader.next().await,
        Some(Ok(Message::Greeting(_)))
    ));
    match reader.next().await {
        Some(Err(CodecError::MessageTooLarge { size, limit })) => {
            assert_eq!((size, limit), (1 << 40, 1024));
        }
        other => panic!("{other:?}"),
    }
    // The message after it is never read: the stream is out of step.
    assert!(reader.next().await.is_none());
    assert!(reader.next().await.is_none());
}

#[async_rt::test]
async fn a_stream_cut_mid_frame_ends_after_one_error() {
    let mut input = greeting();
    input.extend_from_slice(&[0, 5, b'a']);
    let mut reader = reader(input, SocketOptions::default());
    assert!(matches!(
        reader.next().await,
        Some(Ok(Message::Greeting(_)))
    ));
    match reader.next().await {
        Some(Err(CodecError::Io(e))) => assert_eq!(e.kind(), ErrorKind::UnexpectedEof),
        other => panic!("{other:?}"),
    }
    assert!(reader.next().await.is_none());
}

#[async_rt::test]
async fn a_bad_greeting_ends_the_stream() {
    let mut input = vec![0x01; 64];
    input.extend_from_slice(&greeting());
    let mut reader = reader(input, SocketOptions::default());
    assert!(matches!(
        reader.next().await,
        Some(Err(CodecError::Decode(_)))
    ));
    assert!(reader.next().await.is_none());
}

#[async_rt::test]
async fn an_unknown_command_is_harmless() {
    let mut input = greeting();
    // A ZMTP 3.1 PING (TTL 0, no context), then a message.
    input.extend_from_slice(&[0b0000_0100, 7, 4, b'P', b'I', b'N', b'G', 0, 0]);
    input.extend_from_slice(&[0, 2, b'h', b'i']);
    let mut reader = reader(input, SocketOptions::default());
    assert!(matches!(
        reader.next().await,
        Some(Ok(Message::Greeting(_)))
    ));
    assert!(matches!(
        reader.next().await,
        Some(Err(CodecError::Command(_)))
    ));
    let Some(Ok(Message::Message(message))) = reader.next().await else {
        panic!("the message after the PING was lost");
    };
    assert_eq!(message.get(0), Some(&Bytes::from_static(b"hi")));
}
