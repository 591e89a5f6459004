//! The one message format between a judge (trusted) and an adapter (the
//! process that runs student code), over a pipe each way.
//!
//! A frame is: the 4 bytes `GRD1`, a u32 (little-endian) header length, the
//! header as JSON, a u64 payload length and the payload: the frame's tensors
//! as one safetensors buffer (empty when there are none).
//!
//! - judge → adapter: a [`RequestHeader`]: a call id the judge drew at
//!   random, an op name, its [`Params`] and its input tensors. Never an
//!   expected value, a tolerance or a verdict.
//! - adapter → judge: a [`ReplyHeader`]: the call id it answers, and its
//!   output tensors or the error the student's code raised. Nothing in it
//!   is a status: the judge decides every status itself, and a reply whose
//!   id is not the call in flight ends that adapter as a failure.
//!
//! The judge reads replies from untrusted code: a malformed, oversized or
//! truncated frame is an error value, never a panic.

use std::collections::HashMap;
use std::io::{Read, Write};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::params::Params;

const MAGIC: &[u8; 4] = b"GRD1";
/// A header is a few hundred bytes; anything near this is not ours.
const MAX_HEADER: u32 = 1 << 20;
/// The largest tensor payload either side accepts (BERT weights and
/// training data are tens of MB).
pub const MAX_PAYLOAD: u64 = 1 << 30;

/// What the judge asks of the adapter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestHeader {
    /// Drawn by the judge for each call; the reply must carry it back.
    pub call: u64,
    pub op: String,
    #[serde(default)]
    pub params: Params,
}

/// How a call ended in the adapter: outputs, or which kind of error the
/// student's code raised. No kind passes, skips or blocks a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// The outputs follow.
    Ok,
    /// The student's code returned an error, or the adapter could not make
    /// the call (a missing input, an unknown op).
    Failed,
    /// The call reached a `todo!()` or `unimplemented!()`.
    NotStarted,
    /// The student's code panicked.
    Panicked,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyHeader {
    /// The id of the call this answers.
    pub call: u64,
    pub status: ReplyStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `file:line` of a panic or `todo!()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Why a frame could not be read.
#[derive(Debug)]
pub enum WireError {
    /// The other side closed the pipe before a new frame began.
    Closed,
    /// Not a frame of ours, or cut short.
    Malformed(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Closed => write!(f, "the pipe was closed"),
            WireError::Malformed(why) => write!(f, "{why}"),
        }
    }
}

/// Writes one frame.
pub fn write_frame<H: Serialize>(
    out: &mut impl Write,
    header: &H,
    tensors: &[(String, Tensor)],
) -> std::io::Result<()> {
    let header = serde_json::to_vec(header).map_err(std::io::Error::other)?;
    let payload = if tensors.is_empty() {
        Vec::new()
    } else {
        // safetensors wants contiguous data; a view of a transpose is not.
        let tensors: Vec<(String, Tensor)> = tensors
            .iter()
            .map(|(name, t)| Ok((name.clone(), t.contiguous()?)))
            .collect::<candle_core::Result<_>>()
            .map_err(std::io::Error::other)?;
        safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), None)
            .map_err(std::io::Error::other)?
    };
    out.write_all(MAGIC)?;
    out.write_all(&(header.len() as u32).to_le_bytes())?;
    out.write_all(&header)?;
    out.write_all(&(payload.len() as u64).to_le_bytes())?;
    out.write_all(&payload)?;
    out.flush()
}

/// Reads one frame: its header and its tensors.
pub fn read_frame<H: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
) -> Result<(H, HashMap<String, Tensor>), WireError> {
    let mut magic = [0u8; 4];
    match read_exact_or_eof(input, &mut magic)? {
        0 => return Err(WireError::Closed),
        4 if &magic == MAGIC => {}
        _ => return Err(WireError::Malformed("not a frame (bad magic)".into())),
    }
    let mut len4 = [0u8; 4];
    read_all(input, &mut len4)?;
    let header_len = u32::from_le_bytes(len4);
    if header_len > MAX_HEADER {
        return Err(WireError::Malformed(format!(
            "a header of {header_len} bytes is too large"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    read_all(input, &mut header)?;
    let header: H = serde_json::from_slice(&header)
        .map_err(|e| WireError::Malformed(format!("unreadable header ({e})")))?;
    let mut len8 = [0u8; 8];
    read_all(input, &mut len8)?;
    let payload_len = u64::from_le_bytes(len8);
    if payload_len > MAX_PAYLOAD {
        return Err(WireError::Malformed(format!(
            "{payload_len} bytes of tensors is more than the {MAX_PAYLOAD} allowed"
        )));
    }
    let mut payload = Vec::new();
    input
        .take(payload_len)
        .read_to_end(&mut payload)
        .map_err(|e| WireError::Malformed(format!("reading tensors: {e}")))?;
    if payload.len() as u64 != payload_len {
        return Err(WireError::Malformed("the tensors were cut short".into()));
    }
    let tensors = if payload.is_empty() {
        HashMap::new()
    } else {
        candle_core::safetensors::load_buffer(&payload, &Device::Cpu)
            .map_err(|e| WireError::Malformed(format!("unreadable tensors ({e})")))?
    };
    Ok((header, tensors))
}

fn read_all(input: &mut impl Read, buf: &mut [u8]) -> Result<(), WireError> {
    if read_exact_or_eof(input, buf)? == buf.len() {
        Ok(())
    } else {
        Err(WireError::Malformed("the frame was cut short".into()))
    }
}

/// Fills `buf`; returns how many bytes came before the end of the stream.
fn read_exact_or_eof(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, WireError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WireError::Malformed(format!("reading the pipe: {e}"))),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_with_tensors_of_every_dtype() {
        let x = Tensor::new(&[[1f32, 2.], [3., 4.]], &Device::Cpu).unwrap();
        let m = Tensor::new(&[1u8, 0, 1], &Device::Cpu).unwrap();
        let header = RequestHeader {
            call: 7,
            op: "sdpa".into(),
            params: Params::from_json(serde_json::json!({"scale": null, "l": 3})),
        };
        let mut bytes = Vec::new();
        write_frame(
            &mut bytes,
            &header,
            &[("x".into(), x.t().unwrap()), ("m".into(), m)],
        )
        .unwrap();
        let (back, tensors): (RequestHeader, _) = read_frame(&mut bytes.as_slice()).unwrap();
        assert_eq!((back.call, back.op.as_str()), (7, "sdpa"));
        assert_eq!(back.params.usize("l").unwrap(), 3);
        assert_eq!(
            tensors["x"].to_vec2::<f32>().unwrap(),
            vec![vec![1., 3.], vec![2., 4.]]
        );
        assert_eq!(tensors["m"].to_vec1::<u8>().unwrap(), vec![1, 0, 1]);
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let read = |bytes: &[u8]| read_frame::<ReplyHeader>(&mut &bytes[..]).map(|_| ());
        assert!(matches!(read(b""), Err(WireError::Closed)));
        assert!(matches!(read(b"junk"), Err(WireError::Malformed(_))));
        assert!(matches!(
            read(b"GRD1\xff\xff\xff\xff"),
            Err(WireError::Malformed(_))
        ));
        let mut ok = Vec::new();
        let header = ReplyHeader {
            call: 1,
            status: ReplyStatus::Ok,
            message: None,
            location: None,
        };
        let t = Tensor::new(&[1f32, 2.], &Device::Cpu).unwrap();
        write_frame(&mut ok, &header, &[("out".into(), t)]).unwrap();
        assert!(read(&ok).is_ok());
        assert!(matches!(
            read(&ok[..ok.len() - 3]),
            Err(WireError::Malformed(_))
        ));
        let header_end = 8 + u32::from_le_bytes(ok[4..8].try_into().unwrap()) as usize;
        let mut huge = ok[..header_end].to_vec();
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(read(&huge), Err(WireError::Malformed(_))));
    }
}
