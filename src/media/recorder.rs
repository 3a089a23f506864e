//! Call recording: one stereo WAV per call (caller left, the other side right), 8 kHz
//! 16-bit PCM, under `recordings/YYYY/MM/DD/<call-id>.wav`.
//!
//! This is file I/O: run it on a recorder thread, never on the media tick. Samples are
//! buffered in memory and every second the WAV header is rewritten and the buffer handed
//! to the OS (hound's `flush`), so a killed process leaves a playable file missing at most
//! about one second. After a crash, [`repair`] fixes the header of a file whose last
//! second never made it (or only half made it) to disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::resample::RATE;

/// Sample frames (one caller + one other sample) between header flushes: 1 s.
const FLUSH_EVERY: u64 = RATE as u64;
/// Bytes per stereo 16-bit sample frame.
const FRAME_BYTES: u64 = 4;
/// Our header: RIFF + fmt (PCMWAVEFORMAT) + data chunk header.
const HEADER_BYTES: u64 = 44;
/// Buffer a little more than one flush interval, so the OS sees one write per second.
const BUFFER_BYTES: usize = 40 * 1024;
/// Longest file name stem kept from a call id.
const MAX_NAME: usize = 100;
/// Frames interleaved per hound sample-writer call.
const CHUNK: usize = 1024;

/// What went wrong while recording or repairing. Each message names the file and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    #[error("recording date {year:04}-{month:02}-{day:02} is not a valid date")]
    InvalidDate { year: u16, month: u8, day: u8 },
    #[error(
        "cannot create recordings directory {dir}: {source}; check that the recordings path \
         in hotline.toml exists and is writable by hotline"
    )]
    CreateDir { dir: PathBuf, source: io::Error },
    #[error("cannot create recording {path}: {source}; check permissions and free disk space")]
    Create { path: PathBuf, source: io::Error },
    #[error("writing recording {path} failed: {source}; check free disk space")]
    Write { path: PathBuf, source: hound::Error },
    #[error(
        "recording {path} reached the 4 GiB WAV limit (about 37 hours); later audio is not \
         recorded"
    )]
    TooLong { path: PathBuf },
    #[error("cannot read or fix {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a WAV file that can be repaired ({reason}); move it aside")]
    NotRepairable { path: PathBuf, reason: &'static str },
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingInfo {
    pub path: PathBuf,
    /// Audio length.
    pub seconds: f64,
    /// File size, header included.
    pub bytes: u64,
}

/// Writes one call's stereo recording.
pub struct Recorder {
    writer: hound::WavWriter<BufWriter<File>>,
    path: PathBuf,
    frames: u64,
    since_flush: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .finish()
    }
}

impl Recorder {
    /// Creates `recordings_dir/YYYY/MM/DD/<call-id>.wav` (directories included). The
    /// call id is made a safe file name ([`sanitize_call_id`]); if that file exists
    /// already, `-1`, `-2`, … is appended rather than overwriting it.
    pub fn create(
        recordings_dir: &Path,
        date: (u16, u8, u8),
        call_id: &str,
    ) -> Result<Recorder, RecorderError> {
        let (year, month, day) = date;
        if year > 9999 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(RecorderError::InvalidDate { year, month, day });
        }
        let dir = recordings_dir
            .join(format!("{year:04}"))
            .join(format!("{month:02}"))
            .join(format!("{day:02}"));
        fs::create_dir_all(&dir).map_err(|source| RecorderError::CreateDir {
            dir: dir.clone(),
            source,
        })?;
        let stem = sanitize_call_id(call_id);
        let (path, file) = create_new(&dir, &stem)?;
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let buffered = BufWriter::with_capacity(BUFFER_BYTES, file);
        let mut writer =
            hound::WavWriter::new(buffered, spec).map_err(|source| RecorderError::Write {
                path: path.clone(),
                source,
            })?;
        // Put the header on disk now: a crash in the first second then leaves a valid,
        // empty WAV instead of a zero-byte file.
        writer.flush().map_err(|source| RecorderError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(Recorder {
            writer,
            path,
            frames: 0,
            since_flush: 0,
        })
    }

    /// Appends one frame: `caller` to the left channel, `other` to the right. The longer
    /// slice sets the length; the shorter (or empty: that side sent nothing) is padded
    /// with silence. Every ~1 s of audio the header is updated and the data handed to
    /// the OS.
    pub fn write(&mut self, caller: &[i16], other: &[i16]) -> Result<(), RecorderError> {
        let n = caller.len().max(other.len());
        if n == 0 {
            return Ok(());
        }
        let limit = (u64::from(u32::MAX) - (HEADER_BYTES - 8)) / FRAME_BYTES;
        if self.frames + n as u64 > limit {
            return Err(RecorderError::TooLong {
                path: self.path.clone(),
            });
        }
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            // `end - start <= CHUNK`, so the sample count fits a u32.
            let mut w = self.writer.get_i16_writer(2 * (end - start) as u32);
            for i in start..end {
                w.write_sample(caller.get(i).copied().unwrap_or(0));
                w.write_sample(other.get(i).copied().unwrap_or(0));
            }
            w.flush().map_err(|source| RecorderError::Write {
                path: self.path.clone(),
                source,
            })?;
            start = end;
        }
        self.frames += n as u64;
        self.since_flush += n as u64;
        if self.since_flush >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Rewrites the header sizes and hands buffered audio to the OS now.
    pub fn flush(&mut self) -> Result<(), RecorderError> {
        self.since_flush = 0;
        self.writer.flush().map_err(|source| RecorderError::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Where the recording is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Audio recorded so far, in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / f64::from(RATE)
    }

    /// Completes the file. (Dropping a `Recorder` also completes it, but cannot report
    /// errors.)
    pub fn finish(self) -> Result<RecordingInfo, RecorderError> {
        let Recorder {
            writer,
            path,
            frames,
            ..
        } = self;
        if let Err(source) = writer.finalize() {
            return Err(RecorderError::Write { path, source });
        }
        let bytes = fs::metadata(&path)
            .map_err(|source| RecorderError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        Ok(RecordingInfo {
            path,
            seconds: frames as f64 / f64::from(RATE),
            bytes,
        })
    }
}

/// Opens `dir/<stem>.wav`, or `<stem>-1.wav`, `<stem>-2.wav`, … if taken.
fn create_new(dir: &Path, stem: &str) -> Result<(PathBuf, File), RecorderError> {
    let mut last = None;
    for n in 0..1000 {
        let name = if n == 0 {
            format!("{stem}.wav")
        } else {
            format!("{stem}-{n}.wav")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(path),
            Err(source) => return Err(RecorderError::Create { path, source }),
        }
    }
    Err(RecorderError::Create {
        path: last.unwrap_or_else(|| dir.join(stem)),
        source: io::Error::new(
            io::ErrorKind::AlreadyExists,
            "1000 recordings with this call id exist already",
        ),
    })
}

/// A call id as a safe file name: `[A-Za-z0-9._-@]` kept, anything else (slashes,
/// spaces, non-ASCII) becomes `_`; a leading `.` too (no hidden files, no `..`); at most
/// 100 characters; empty becomes `call`.
pub fn sanitize_call_id(call_id: &str) -> String {
    let mut name: String = call_id
        .chars()
        .take(MAX_NAME)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with('.') {
        name.replace_range(..1, "_");
    }
    if name.is_empty() {
        name.push_str("call");
    }
    name
}

/// Fixes a WAV left behind by a crash: when the data chunk's declared size disagrees
/// with the bytes actually in the file, a trailing partial sample frame is cut off and
/// the RIFF and data sizes are set to what is there. Returns whether anything changed;
/// a consistent file is left untouched. Meant for start-up, on recordings that were open
/// when the process died.
pub fn repair(path: &Path) -> Result<bool, RecorderError> {
    let io_err = |source| RecorderError::Io {
        path: path.to_owned(),
        source,
    };
    let bad = |reason| RecorderError::NotRepairable {
        path: path.to_owned(),
        reason,
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    let mut head = [0u8; 12];
    if len < 12 {
        return Err(bad("shorter than a RIFF header"));
    }
    f.read_exact(&mut head).map_err(io_err)?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let riff_size = u32_at(&head, 4);

    // Walk the chunks up to "data", noting the frame size from "fmt ".
    let mut pos = 12u64;
    let mut block_align = 0u64;
    let (data_off, declared) = loop {
        if pos + 8 > len {
            return Err(bad("no data chunk"));
        }
        let mut chunk = [0u8; 8];
        f.seek(SeekFrom::Start(pos)).map_err(io_err)?;
        f.read_exact(&mut chunk).map_err(io_err)?;
        let size = u64::from(u32_at(&chunk, 4));
        match &chunk[0..4] {
            b"fmt " => {
                if size < 16 || pos + 8 + 16 > len {
                    return Err(bad("fmt chunk cut short"));
                }
                let mut fmt = [0u8; 16];
                f.read_exact(&mut fmt).map_err(io_err)?;
                block_align = u64::from(u16::from_le_bytes([fmt[12], fmt[13]]));
            }
            b"data" => break (pos + 8, size),
            _ => {}
        }
        pos += 8 + size + (size & 1);
    };
    if block_align == 0 {
        return Err(bad("no fmt chunk before the data"));
    }

    let available = len - data_off;
    let data_ok = declared == available
        || (declared < available
            && valid_chunk_after(&mut f, data_off + declared, len).map_err(io_err)?);
    let mut changed = false;
    let mut new_len = len;
    if !data_ok {
        // Largest whole number of frames that is in the file and fits the u32 sizes.
        let max = u64::from(u32::MAX) - data_off;
        let data = available.min(max);
        let data = data - data % block_align;
        new_len = data_off + data;
        if new_len != len {
            f.set_len(new_len).map_err(io_err)?;
        }
        write_u32_at(&mut f, data_off - 4, data).map_err(io_err)?;
        changed = true;
    }
    // RIFF size: everything after its first 8 bytes. Only a size that is wrong after our
    // fix, or points past the end, is rewritten.
    let want_riff = new_len - 8;
    if (changed && u64::from(riff_size) != want_riff) || u64::from(riff_size) > want_riff {
        write_u32_at(&mut f, 4, want_riff).map_err(io_err)?;
        changed = true;
    }
    if changed {
        f.sync_all().map_err(io_err)?;
    }
    Ok(changed)
}

/// Whether a well-formed chunk (printable id, size within the file) starts at `at` (or
/// `at` + 1, the pad byte after odd-sized data): then a data chunk shorter than the rest
/// of the file is legitimate.
fn valid_chunk_after(f: &mut File, at: u64, len: u64) -> Result<bool, io::Error> {
    for start in [at, at + 1] {
        if start + 8 > len {
            continue;
        }
        let mut chunk = [0u8; 8];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut chunk)?;
        let id_ok = chunk[..4].iter().all(|b| (b' '..=b'~').contains(b));
        if id_ok && start + 8 + u64::from(u32_at(&chunk, 4)) <= len {
            return Ok(true);
        }
    }
    Ok(false)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn write_u32_at(f: &mut File, at: u64, value: u64) -> io::Result<()> {
    let v = u32::try_from(value).unwrap_or(u32::MAX);
    f.seek(SeekFrom::Start(at))?;
    f.write_all(&v.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("hotline-recorder-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn caller_sample(i: usize) -> i16 {
        (i % 1000) as i16 + 1
    }

    fn other_sample(i: usize) -> i16 {
        -((i % 777) as i16) - 1
    }

    /// Writes `frames` 20 ms frames of the two known signals.
    fn record(r: &mut Recorder, from: usize, frames: usize) {
        for f in from..from + frames {
            let a: Vec<i16> = (f * 160..(f + 1) * 160).map(caller_sample).collect();
            let b: Vec<i16> = (f * 160..(f + 1) * 160).map(other_sample).collect();
            r.write(&a, &b).unwrap();
        }
    }

    fn read_back(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut rd = hound::WavReader::open(path).unwrap();
        let spec = rd.spec();
        let samples = rd.samples::<i16>().map(Result::unwrap).collect();
        (spec, samples)
    }

    #[test]
    fn three_seconds_with_each_party_on_its_channel() {
        let tmp = TempDir::new("three");
        let mut r =
            Recorder::create(&tmp.0, (2024, 3, 7), "a84b4c76e66710@pc33.example.com").unwrap();
        let want = tmp.0.join("2024/03/07/a84b4c76e66710@pc33.example.com.wav");
        assert_eq!(r.path(), want);
        record(&mut r, 0, 150);
        assert_eq!(r.seconds(), 3.0);
        let info = r.finish().unwrap();
        assert_eq!(info.path, want);
        assert_eq!(info.seconds, 3.0);
        assert_eq!(info.bytes, 44 + 24_000 * 4);
        assert_eq!(fs::metadata(&want).unwrap().len(), info.bytes);

        let (spec, s) = read_back(&want);
        assert_eq!(spec.channels, 2);
        assert_eq!(spec.sample_rate, 8000);
        assert_eq!(spec.bits_per_sample, 16);
        assert_eq!(spec.sample_format, hound::SampleFormat::Int);
        assert_eq!(s.len(), 48_000);
        for (i, pair) in s.chunks(2).enumerate() {
            assert_eq!(pair, [caller_sample(i), other_sample(i)], "frame {i}");
        }
    }

    #[test]
    fn a_missing_or_short_side_is_silence() {
        let tmp = TempDir::new("sides");
        let mut r = Recorder::create(&tmp.0, (2025, 12, 31), "x").unwrap();
        r.write(&[1; 160], &[]).unwrap();
        r.write(&[], &[2; 160]).unwrap();
        r.write(&[3; 160], &[4; 80]).unwrap();
        r.write(&[], &[]).unwrap();
        let info = r.finish().unwrap();
        assert_eq!(info.seconds, 0.06);
        let (_, s) = read_back(&info.path);
        let left: Vec<i16> = s.iter().step_by(2).copied().collect();
        let right: Vec<i16> = s.iter().skip(1).step_by(2).copied().collect();
        assert!(left[..160].iter().all(|&v| v == 1) && right[..160].iter().all(|&v| v == 0));
        assert!(left[160..320].iter().all(|&v| v == 0));
        assert!(right[160..320].iter().all(|&v| v == 2));
        assert!(left[320..].iter().all(|&v| v == 3));
        assert!(right[320..400].iter().all(|&v| v == 4));
        assert!(right[400..].iter().all(|&v| v == 0));
    }

    #[test]
    fn header_is_kept_current_every_second() {
        let tmp = TempDir::new("flush");
        let mut r = Recorder::create(&tmp.0, (2024, 1, 2), "live").unwrap();
        // Right after create: a valid empty WAV on disk.
        assert_eq!(fs::metadata(r.path()).unwrap().len(), 44);
        assert_eq!(hound::WavReader::open(r.path()).unwrap().duration(), 0);
        record(&mut r, 0, 125); // 2.5 s: flushed at 1 s and 2 s
        let on_disk = hound::WavReader::open(r.path()).unwrap();
        assert_eq!(on_disk.duration(), 16_000);
        drop(on_disk);
        assert_eq!(fs::metadata(r.path()).unwrap().len(), 44 + 16_000 * 4);
        r.finish().unwrap();
    }

    /// Copies the recording as it is on disk right now, as a crash would leave it.
    fn crash_copy(r: &Recorder, to: &Path) -> Vec<u8> {
        fs::copy(r.path(), to).unwrap();
        fs::read(to).unwrap()
    }

    #[test]
    fn repair_after_a_crash_mid_write() {
        let tmp = TempDir::new("repair");
        let mut r = Recorder::create(&tmp.0, (2024, 5, 6), "crash").unwrap();
        record(&mut r, 0, 125); // on disk: 2 s and a consistent header
        let cut = tmp.0.join("cut.wav");
        let bytes = crash_copy(&r, &cut);
        assert_eq!(bytes.len(), 44 + 16_000 * 4);

        // The header was not consistent: no change.
        assert!(!repair(&cut).unwrap());
        assert_eq!(fs::read(&cut).unwrap(), bytes);

        // Killed while the OS had only part of the data: cut at an odd byte inside
        // frame 10_000, header still claiming 16_000 frames.
        let f = OpenOptions::new().write(true).open(&cut).unwrap();
        f.set_len(44 + 10_000 * 4 + 3).unwrap();
        drop(f);
        let mut damaged = hound::WavReader::open(&cut).unwrap();
        assert!(
            damaged.samples::<i16>().any(|s| s.is_err()),
            "hound fails on the damaged file"
        );
        drop(damaged);
        assert!(repair(&cut).unwrap());
        assert_eq!(fs::metadata(&cut).unwrap().len(), 44 + 10_000 * 4);
        let (spec, s) = read_back(&cut);
        assert_eq!(spec.channels, 2);
        assert_eq!(s.len() / 2, 10_000);
        assert_eq!(
            hound::WavReader::open(&cut).unwrap().duration() as f64 / 8000.0,
            1.25
        );
        for (i, pair) in s.chunks(2).enumerate() {
            assert_eq!(pair, [caller_sample(i), other_sample(i)], "frame {i}");
        }
        // A second repair finds nothing to do.
        assert!(!repair(&cut).unwrap());

        // The other way: data reached the disk but the header update did not (header
        // says 2 s, the file holds 2.5 s and half a frame).
        record(&mut r, 125, 25);
        r.flush().unwrap();
        let mut behind = fs::read(r.path()).unwrap();
        behind[4..8].copy_from_slice(&bytes[4..8]);
        behind[40..44].copy_from_slice(&bytes[40..44]);
        behind.extend_from_slice(&[1, 2]);
        let late = tmp.0.join("late.wav");
        fs::write(&late, &behind).unwrap();
        assert!(repair(&late).unwrap());
        let (_, s) = read_back(&late);
        assert_eq!(s.len() / 2, 24_000);
        assert_eq!(s[47_998..], [caller_sample(23_999), other_sample(23_999)]);
        r.finish().unwrap();
    }

    #[test]
    fn repair_of_a_file_whose_sizes_were_never_written() {
        let tmp = TempDir::new("zero");
        let mut r = Recorder::create(&tmp.0, (2024, 5, 6), "z").unwrap();
        record(&mut r, 0, 10);
        let path = r.finish().unwrap().path;
        let mut b = fs::read(&path).unwrap();
        b[4..8].copy_from_slice(&0u32.to_le_bytes());
        b[40..44].copy_from_slice(&0u32.to_le_bytes());
        fs::write(&path, &b).unwrap();
        assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 0);
        assert!(repair(&path).unwrap());
        assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 1600);
    }

    #[test]
    fn repair_leaves_trailing_chunks_and_refuses_non_wav() {
        let tmp = TempDir::new("chunks");
        let mut r = Recorder::create(&tmp.0, (2024, 5, 6), "list").unwrap();
        record(&mut r, 0, 5);
        let path = r.finish().unwrap().path;
        let mut b = fs::read(&path).unwrap();
        b.extend_from_slice(b"LIST\x04\0\0\0INFO");
        let riff = (b.len() - 8) as u32;
        b[4..8].copy_from_slice(&riff.to_le_bytes());
        fs::write(&path, &b).unwrap();
        assert!(!repair(&path).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b);

        let junk = tmp.0.join("junk.wav");
        fs::write(&junk, b"hello, this is not a wav at all").unwrap();
        assert!(matches!(
            repair(&junk),
            Err(RecorderError::NotRepairable { .. })
        ));
        fs::write(&junk, b"RIF").unwrap();
        assert!(matches!(
            repair(&junk),
            Err(RecorderError::NotRepairable { .. })
        ));
        // Header only, no data chunk.
        fs::write(&junk, &b[..36]).unwrap();
        let e = repair(&junk).unwrap_err();
        assert!(e.to_string().contains("no data chunk"), "{e}");
        assert!(matches!(
            repair(&tmp.0.join("missing.wav")),
            Err(RecorderError::Io { .. })
        ));
    }

    #[test]
    fn call_ids_become_safe_file_names() {
        assert_eq!(
            sanitize_call_id("a84b4c76e66710@pc33.example.com"),
            "a84b4c76e66710@pc33.example.com"
        );
        assert_eq!(sanitize_call_id("AbC-1_2.x"), "AbC-1_2.x");
        assert_eq!(sanitize_call_id("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(sanitize_call_id(".."), "_.");
        assert_eq!(sanitize_call_id("a b/c\\d:e*f\0g"), "a_b_c_d_e_f_g");
        assert_eq!(sanitize_call_id("呼叫@主机"), "__@__");
        assert_eq!(sanitize_call_id(""), "call");
        let long = "x".repeat(500);
        assert_eq!(sanitize_call_id(&long).len(), 100);
    }

    #[test]
    fn directories_are_created_and_names_never_collide() {
        let tmp = TempDir::new("dirs");
        let root = tmp.0.join("recordings");
        let a = Recorder::create(&root, (2026, 2, 9), "dup/id").unwrap();
        let b = Recorder::create(&root, (2026, 2, 9), "dup id").unwrap();
        let c = Recorder::create(&root, (2026, 2, 9), "dup_id").unwrap();
        let day = root.join("2026").join("02").join("09");
        assert!(day.is_dir());
        assert_eq!(a.path(), day.join("dup_id.wav"));
        assert_eq!(b.path(), day.join("dup_id-1.wav"));
        assert_eq!(c.path(), day.join("dup_id-2.wav"));
        for r in [a, b, c] {
            let info = r.finish().unwrap();
            assert_eq!(info.bytes, 44);
            assert_eq!(info.seconds, 0.0);
        }
        for bad in [
            (2026, 13, 1),
            (2026, 0, 1),
            (2026, 1, 0),
            (2026, 1, 32),
            (10_000, 1, 1),
        ] {
            assert!(matches!(
                Recorder::create(&root, bad, "x"),
                Err(RecorderError::InvalidDate { .. })
            ));
        }
        // A file where the directory should be.
        fs::write(tmp.0.join("blocked"), b"").unwrap();
        let e = Recorder::create(&tmp.0.join("blocked"), (2026, 2, 9), "x").unwrap_err();
        assert!(matches!(e, RecorderError::CreateDir { .. }), "{e}");
        assert!(e.to_string().contains("hotline.toml"));
    }

    #[test]
    fn dropping_without_finish_still_leaves_a_complete_file() {
        let tmp = TempDir::new("drop");
        let mut r = Recorder::create(&tmp.0, (2024, 8, 8), "dropped").unwrap();
        record(&mut r, 0, 30);
        let path = r.path().to_owned();
        drop(r);
        let (_, s) = read_back(&path);
        assert_eq!(s.len(), 30 * 160 * 2);
    }
}
