//! Receive limits (`SocketOptions::max_message_size`, `max_message_frames`): checked at the
//! frame header, before anything is reserved for the body.

use super::*;
use bolero::check;

const LIMIT: usize = 1024;
const FRAMES: usize = 8;

fn limited_codec() -> ZmqCodec {
    let mut options = SocketOptions::default();
    options.max_message_size(LIMIT).max_message_frames(FRAMES);
    let mut codec = ZmqCodec::with_options(&options);
    codec.state = DecoderState::FrameHeader;
    codec.waiting_for = 1;
    codec
}

fn long_header(flags: u8, len: u64) -> Vec<u8> {
    let mut header = vec![flags | 0b0000_0010];
    header.extend_from_slice(&len.to_be_bytes());
    header
}

fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = if body.len() > 255 {
        long_header(flags, body.len() as u64)
    } else {
        vec![flags, body.len() as u8]
    };
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn a_huge_length_is_refused_before_anything_is_reserved() {
    for len in [LIMIT as u64 + 1, 1 << 40, i64::MAX as u64, u64::MAX] {
        for flags in [0, 0b0000_0001, 0b0000_0100] {
            let mut codec = limited_codec();
            let mut src = BytesMut::from(long_header(flags, len).as_slice());
            let capacity = src.capacity();
            match codec.decode(&mut src) {
                Err(CodecError::MessageTooLarge { size, limit }) => {
                    assert_eq!((size, limit), (len, LIMIT));
                }
                other => panic!("length {len}, flags {flags}: {other:?}"),
            }
            assert!(src.capacity() <= capacity, "reserved after the header");
        }
    }
}

#[test]
fn a_frame_of_exactly_the_limit_is_accepted() {
    let body = vec![7u8; LIMIT];
    let mut codec = limited_codec();
    let mut src = BytesMut::from(frame(0, &body).as_slice());
    let Some(Message::Message(message)) = codec.decode(&mut src).unwrap() else {
        panic!("expected a message");
    };
    assert_eq!(message.get(0).map(|f| f.len()), Some(LIMIT));
}

#[test]
fn the_limit_counts_every_frame_of_a_message() {
    let mut codec = limited_codec();
    let half = vec![1u8; LIMIT / 2];
    let mut src = BytesMut::new();
    src.extend_from_slice(&frame(1, &half));
    src.extend_from_slice(&frame(1, &half));
    // One byte more than the limit in the third frame's header.
    src.extend_from_slice(&[0, 1, b'x']);
    match codec.decode(&mut src) {
        Err(CodecError::MessageTooLarge { size, limit }) => {
            assert_eq!((size, limit), (LIMIT as u64 + 1, LIMIT));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_message_starts_its_count_afresh() {
    let mut codec = limited_codec();
    let body = vec![2u8; LIMIT];
    let mut src = BytesMut::new();
    for _ in 0..3 {
        src.extend_from_slice(&frame(0, &body));
    }
    for _ in 0..3 {
        assert!(matches!(
            codec.decode(&mut src),
            Ok(Some(Message::Message(_)))
        ));
    }
}

#[test]
fn endless_more_frames_stop_at_the_frame_limit() {
    let mut codec = limited_codec();
    // Empty frames with MORE set and no last one: no bytes to count, only frames.
    let mut src = BytesMut::from([1u8, 0].repeat(1000).as_slice());
    match codec.decode(&mut src) {
        Err(CodecError::TooManyFrames { limit }) => assert_eq!(limit, FRAMES),
        other => panic!("{other:?}"),
    }
    let buffered = codec.buffered_message.as_ref().map_or(0, ZmqMessage::len);
    assert_eq!(buffered, FRAMES);
}

#[test]
fn a_message_of_exactly_the_frame_limit_is_accepted() {
    let mut codec = limited_codec();
    let mut src = BytesMut::from([1u8, 0].repeat(FRAMES - 1).as_slice());
    src.extend_from_slice(&[0, 0]);
    let Some(Message::Message(message)) = codec.decode(&mut src).unwrap() else {
        panic!("expected a message");
    };
    assert_eq!(message.len(), FRAMES);
}

#[test]
fn commands_are_limited_too() {
    let mut codec = limited_codec();
    let mut src = BytesMut::from(long_header(0b0000_0100, LIMIT as u64 + 1).as_slice());
    assert!(matches!(
        codec.decode(&mut src),
        Err(CodecError::MessageTooLarge { .. })
    ));
}

#[test]
fn without_limits_nothing_changes() {
    let mut codec = ZmqCodec::new();
    codec.state = DecoderState::FrameHeader;
    codec.waiting_for = 1;
    let body = vec![3u8; 4 * LIMIT];
    let mut src = BytesMut::from(frame(0, &body).as_slice());
    assert!(matches!(
        codec.decode(&mut src),
        Ok(Some(Message::Message(_)))
    ));
}

/// Length fields at every boundary (around 255/256, the limits, 2^32, 2^63, u64::MAX), in any
/// order, with any flags, cut anywhere: the decoder never panics, never holds more than the
/// limits allow, and never reserves more than one frame's limit plus its read headroom.
#[test]
fn frame_headers_at_every_boundary() {
    const BOUNDARY_LENGTHS: [u64; 12] = [
        0,
        1,
        255,
        256,
        LIMIT as u64 - 1,
        LIMIT as u64,
        LIMIT as u64 + 1,
        u32::MAX as u64,
        1 << 40,
        i64::MAX as u64,
        i64::MAX as u64 + 1,
        u64::MAX,
    ];
    let ceiling = LIMIT + 2 * SocketOptions::default().read_buffer_max_size + 64;
    check!()
        .with_iterations(
            std::env::var("BOLERO_RANDOM_ITERATIONS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2_000),
        )
        .with_type::<(Vec<(u8, u8, bool)>, u16)>()
        .for_each(|(frames, cut)| {
            let mut wire = Vec::new();
            for &(flags, pick, long) in frames {
                let len = BOUNDARY_LENGTHS[usize::from(pick) % BOUNDARY_LENGTHS.len()];
                let flags = flags & 0b0000_0101;
                if long || len > 255 {
                    wire.extend_from_slice(&long_header(flags, len));
                } else {
                    wire.extend_from_slice(&[flags, len as u8]);
                }
                // A body as long as announced when that is small; anything otherwise.
                let body = usize::try_from(len).map_or(3, |l| l.min(2 * LIMIT));
                wire.extend(std::iter::repeat_n(0x41, body));
            }
            let cut = usize::from(*cut) % (wire.len() + 1);
            let mut codec = limited_codec();
            let mut src = BytesMut::new();
            for chunk in [&wire[..cut], &wire[cut..]] {
                src.extend_from_slice(chunk);
                loop {
                    match codec.decode(&mut src) {
                        Ok(Some(Message::Message(message))) => {
                            let bytes: usize = message.iter().map(|f| f.len()).sum();
                            assert!(bytes <= LIMIT && message.len() <= FRAMES);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        // A stream stops at its first error (ZmqFramedRead ends it).
                        Err(_) => return,
                    }
                    assert!(codec.buffered_bytes <= LIMIT);
                }
                assert!(src.capacity() <= ceiling, "reserved {}", src.capacity());
            }
        });
}
