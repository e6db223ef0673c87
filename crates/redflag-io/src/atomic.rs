//! Output files that appear whole or not at all.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file written under a temporary name in the target's directory and renamed into place by
/// [`AtomicFile::commit`]. Dropped without `commit`, the temporary file is removed and the target
/// is untouched.
pub struct AtomicFile {
    writer: BufWriter<tempfile::NamedTempFile>,
    target: PathBuf,
}

impl AtomicFile {
    /// Starts writing `target`.
    pub fn create(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 16, tmp),
            target: target.to_owned(),
        })
    }

    /// The path the file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let target = self.target;
        let tmp = self
            .writer
            .into_inner()
            .map_err(|e| Error::io(&target, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(&target, e))?;
        tmp.persist(&target)
            .map_err(|e| Error::io(&target, e.error))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes).map_err(|e| Error::io(target, e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.csv");
        {
            let mut f = AtomicFile::create(&target).expect("create");
            f.write_all(b"half").expect("write");
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
        write_atomic(&target, b"whole").expect("write");
        assert_eq!(std::fs::read(&target).expect("read"), b"whole");
    }
}
