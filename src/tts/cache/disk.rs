//! Cache files: 8 kHz mono 16-bit PCM WAV, written to a temporary name and renamed into
//! place so a reader never sees half a file, and read strictly (anything unexpected is
//! reported as corrupt so the prompt is rendered again).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::media::resample::RATE;

/// What a cache file lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DiskRead {
    Missing,
    Found(Vec<i16>),
    /// Present but unusable; the detail is for the log.
    Corrupt(String),
}

fn spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

pub(super) fn read(path: &Path) -> DiskRead {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return DiskRead::Missing,
        Err(e) => return DiskRead::Corrupt(e.to_string()),
    };
    let mut reader = match hound::WavReader::new(std::io::BufReader::new(file)) {
        Ok(r) => r,
        Err(e) => return DiskRead::Corrupt(e.to_string()),
    };
    if reader.spec() != spec() {
        return DiskRead::Corrupt(format!("unexpected format {:?}", reader.spec()));
    }
    let declared = reader.len() as usize;
    let samples: Result<Vec<i16>, _> = reader.samples::<i16>().collect();
    match samples {
        Err(e) => DiskRead::Corrupt(e.to_string()),
        Ok(s) if s.is_empty() => DiskRead::Corrupt("no samples".to_owned()),
        Ok(s) if s.len() != declared => {
            DiskRead::Corrupt(format!("{} of {declared} samples", s.len()))
        }
        Ok(s) => DiskRead::Found(s),
    }
}

/// Writes `samples` to `path` atomically (temporary file in the same directory, then
/// rename), creating the directory if needed.
pub(super) fn write_atomic(path: &Path, samples: &[i16]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = write(&tmp, samples).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write(path: &Path, samples: &[i16]) -> std::io::Result<()> {
    let to_io = |e: hound::Error| match e {
        hound::Error::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    };
    let mut writer = hound::WavWriter::create(path, spec()).map_err(to_io)?;
    for &s in samples {
        writer.write_sample(s).map_err(to_io)?;
    }
    writer.finalize().map_err(to_io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hotline-tts-disk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn round_trips_and_leaves_no_temporary_files() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("sub").join("abc.wav");
        let samples: Vec<i16> = (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        assert_eq!(read(&path), DiskRead::Missing);
        write_atomic(&path, &samples).unwrap();
        assert_eq!(read(&path), DiskRead::Found(samples.clone()));
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("abc.wav")]);
        // The file is a playable 8 kHz WAV for any tool.
        let prompt = crate::media::resample::load_prompt(&path).unwrap();
        assert_eq!(prompt.samples(), &samples[..]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_files_are_reported_corrupt() {
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.wav");
        let samples = vec![100i16; 800];
        write_atomic(&path, &samples).unwrap();
        let bytes = std::fs::read(&path).unwrap();

        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(matches!(read(&path), DiskRead::Corrupt(_)), "truncated");
        std::fs::write(&path, b"not a wav at all").unwrap();
        assert!(matches!(read(&path), DiskRead::Corrupt(_)), "garbage");
        std::fs::write(&path, b"").unwrap();
        assert!(matches!(read(&path), DiskRead::Corrupt(_)), "empty");
        write_atomic(&path, &[]).unwrap();
        assert!(matches!(read(&path), DiskRead::Corrupt(_)), "no samples");
        let mut other_rate = bytes.clone();
        other_rate[24..28].copy_from_slice(&16000u32.to_le_bytes());
        std::fs::write(&path, &other_rate).unwrap();
        assert!(matches!(read(&path), DiskRead::Corrupt(_)), "wrong rate");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
