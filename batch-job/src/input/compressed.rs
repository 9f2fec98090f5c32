//! gzip and zstd input, decoded as it streams in (flate2, zstd).
//!
//! A decoder's refusal (corrupt or truncated data) comes out as an [`std::io::ErrorKind::InvalidData`]
//! error naming the codec, so the job fails as bad data (exit 65); a failure of the stream
//! underneath (the network) passes through unchanged and stays transient.

use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The compression of a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Not compressed.
    None,
    /// gzip (RFC 1952), one member or several concatenated.
    Gzip,
    /// Zstandard frames.
    Zstd,
}

impl Codec {
    /// The codec whose magic number opens `head`.
    pub fn sniff(head: &[u8]) -> Codec {
        if head.starts_with(&[0x1f, 0x8b]) {
            Codec::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Codec::Zstd
        } else {
            Codec::None
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "uncompressed",
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// `reader` decoded: the bytes of the file as it was before compression.
    pub fn decode(self, reader: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
        let failed = Arc::new(AtomicBool::new(false));
        let source = Watched {
            inner: reader,
            failed: Arc::clone(&failed),
        };
        let decoder: Box<dyn Read + Send> = match self {
            Codec::None => return Ok(Box::new(source)),
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 16,
                source,
            ))),
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(source).map_err(|e| {
                if failed.load(Ordering::Relaxed) {
                    e
                } else {
                    corrupt(self, &e)
                }
            })?),
        };
        Ok(Box::new(Decoded {
            decoder,
            failed,
            codec: self,
        }))
    }
}

fn corrupt(codec: Codec, e: &io::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the {} data is corrupt or truncated ({e}); check the file was completely uploaded and is {} as its content says",
            codec.name(),
            codec.name()
        ),
    )
}

/// The compressed stream, noting whether it failed (then the decoder's error is the stream's).
struct Watched {
    inner: Box<dyn Read + Send>,
    failed: Arc<AtomicBool>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| {
            self.failed.store(true, Ordering::Relaxed);
        })
    }
}

struct Decoded {
    decoder: Box<dyn Read + Send>,
    failed: Arc<AtomicBool>,
    codec: Codec,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(|e| {
            if self.failed.load(Ordering::Relaxed) {
                e
            } else {
                corrupt(self.codec, &e)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(codec: Codec, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        codec
            .decode(Box::new(io::Cursor::new(bytes)))?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn gzip_members_and_zstd_frames_decode_to_the_original() {
        let mut two = gzip(b"id,x\n1,2\n");
        two.extend(gzip(b"3,4\n"));
        assert_eq!(Codec::sniff(&two), Codec::Gzip);
        assert_eq!(read_all(Codec::Gzip, two).unwrap(), b"id,x\n1,2\n3,4\n");
        let z = zstd::encode_all(&b"id,x\n1,2\n"[..], 3).unwrap();
        assert_eq!(Codec::sniff(&z), Codec::Zstd);
        assert_eq!(read_all(Codec::Zstd, z).unwrap(), b"id,x\n1,2\n");
    }

    #[test]
    fn corrupt_and_truncated_data_is_invalid_data_naming_the_codec() {
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let g = gzip(&data);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        for (codec, mut bytes) in [(Codec::Gzip, g.clone()), (Codec::Zstd, z.clone())] {
            bytes.truncate(bytes.len() / 2);
            let e = read_all(codec, bytes).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{codec:?}: {e}");
            assert!(e.to_string().contains(codec.name()), "{e}");
        }
        // gzip's CRC catches any change (a zstd frame without a checksum may decode changed
        // bytes to other bytes, as zstd itself does)
        let mut bytes = g;
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        bytes[mid + 1] ^= 0x55;
        let e = read_all(Codec::Gzip, bytes).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn a_failing_stream_underneath_keeps_its_own_error() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::ConnectionReset, "network"))
            }
        }
        let mut out = Vec::new();
        let e = Codec::Gzip
            .decode(Box::new(Broken))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    }
}
