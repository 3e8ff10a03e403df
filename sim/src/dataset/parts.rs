//! One dataset written by several independent jobs (the parts of a cluster stage). The
//! sequential writer's shard `f` holds episodes `f·S .. (f+1)·S`; part `k` of `N` writes the
//! shards with `f mod N = k` straight into the dataset's `shards/` (same bytes as the
//! sequential writer's) and a small entry for each under `DIR.parts/`. [`merge`] then writes
//! the manifest the sequential writer would have written and removes the entries, so a
//! dataset written in parts is identical, file for file, to one written in one go.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::manifest::{MANIFEST_FILE, Manifest, ShardEntry};
use super::shard::{EpisodeRecord, ShardLayout, write_shard};
use super::writer::{DatasetHeader, check_header, shard_file};
use super::{DatasetError, atomic};

/// A share of a stage's work: part `index` of `count` (`0 ≤ index < count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Part {
    pub index: usize,
    pub count: usize,
}

impl Part {
    /// All of the work, as one part.
    pub const WHOLE: Part = Part { index: 0, count: 1 };

    /// Part `index` of `count`; `None` unless `index < count`.
    pub fn new(index: usize, count: usize) -> Option<Part> {
        (index < count).then_some(Part { index, count })
    }

    /// Whether item `i` of the work (a shard file, an imagined set, an evaluation cell)
    /// belongs to this part: items are dealt round-robin.
    pub fn owns(self, i: usize) -> bool {
        i % self.count == self.index
    }

    /// Every part of a split into `count`.
    pub fn all(count: usize) -> impl Iterator<Item = Part> {
        (0..count).map(move |index| Part { index, count })
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The entry of one written shard, kept until the merge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PartEntry {
    entry: ShardEntry,
    successes: usize,
}

/// Where the entries of a dataset written in parts wait for the merge: `DIR.parts/`.
pub fn parts_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".parts");
    dir.with_file_name(name)
}

/// Whether a dataset is being written in parts (entries wait under `DIR.parts/`).
pub fn in_parts(dir: &Path) -> bool {
    parts_dir(dir).is_dir()
}

/// Writes shard files of one dataset independently of the other parts' writers.
pub struct PartWriter {
    dir: PathBuf,
    parts: PathBuf,
    layout: ShardLayout,
}

impl PartWriter {
    /// Opens `dir` for writing shards of the dataset `header` describes; every part's writer
    /// must be given the same header ([`DatasetError::ArgumentsDiffer`] otherwise).
    pub fn open(dir: &Path, header: DatasetHeader) -> Result<PartWriter, DatasetError> {
        let parts = parts_dir(dir);
        std::fs::create_dir_all(dir.join("shards")).map_err(|e| DatasetError::io(dir, e))?;
        std::fs::create_dir_all(&parts).map_err(|e| DatasetError::io(&parts, e))?;
        let fresh = header.fresh_manifest();
        let path = parts.join(MANIFEST_FILE);
        if path.exists() {
            let m = Manifest::read(&parts)?;
            check_header(&m, &DatasetHeader::of_manifest(&fresh), &path)?;
        } else {
            fresh.write(&parts)?;
        }
        Ok(PartWriter {
            dir: dir.to_path_buf(),
            parts,
            layout: ShardLayout::of(&fresh),
        })
    }

    fn entry_path(&self, index: usize) -> PathBuf {
        self.parts.join(format!("episodes-{index:05}.json"))
    }

    /// Whether shard `index` has been written (by any part).
    pub fn written(&self, index: usize) -> bool {
        self.entry_path(index).exists()
    }

    /// Writes shard `index` holding `episodes`, then its entry.
    pub fn write(&self, index: usize, episodes: &[EpisodeRecord]) -> Result<(), DatasetError> {
        let file = shard_file(index);
        let (bytes, sha256) = write_shard(&self.dir.join(&file), episodes, &self.layout)?;
        let (entry, successes) = ShardEntry::of(file, episodes, bytes, sha256);
        let entry = PartEntry { entry, successes };
        let text = serde_json::to_string_pretty(&entry).expect("entry serialises");
        atomic::write_atomic(&self.entry_path(index), text.as_bytes())
    }
}

/// Writes the manifest of a dataset of `shards` shard files written in parts, and removes
/// their entries. Fails, naming the first, while a shard's entry is missing.
pub fn merge(dir: &Path, shards: usize) -> Result<Manifest, DatasetError> {
    let parts = parts_dir(dir);
    let mut m = Manifest::read(&parts)?;
    for index in 0..shards {
        let path = parts.join(format!("episodes-{index:05}.json"));
        if !path.exists() {
            return Err(DatasetError::corrupt(
                &path,
                format!("shard {index} of {shards} has not been written by its part"),
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| DatasetError::io(&path, e))?;
        let e: PartEntry = serde_json::from_str(&text)
            .map_err(|err| DatasetError::corrupt(&path, format!("invalid entry: {err}")))?;
        if e.entry.file != shard_file(index) {
            return Err(DatasetError::corrupt(
                &path,
                format!(
                    "entry names {} instead of {}",
                    e.entry.file,
                    shard_file(index)
                ),
            ));
        }
        m.push_shard(e.entry, e.successes);
    }
    m.write(dir)?;
    std::fs::remove_dir_all(&parts).map_err(|e| DatasetError::io(&parts, e))?;
    Ok(m)
}
