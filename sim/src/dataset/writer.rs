//! Writing a dataset shard by shard, so an interrupted collection resumes where it stopped.

use std::path::{Path, PathBuf};

use super::manifest::{
    ActionSpace, Collection, Counts, FORMAT_NAME, FORMAT_VERSION, FrameSpec, MANIFEST_FILE,
    Manifest, Origin, SplitInfo,
};
use super::shard::{EpisodeRecord, ShardLayout, write_shard};
use super::{DatasetError, atomic};

/// What a new dataset is: written into its manifest before the first shard.
#[derive(Clone, Debug)]
pub struct DatasetHeader {
    pub env: String,
    pub origin: Origin,
    pub collection: Collection,
    pub split: SplitInfo,
    pub state_dim: usize,
    pub obs_dim: usize,
    pub action_space: ActionSpace,
    pub frames: Option<FrameSpec>,
}

impl DatasetHeader {
    /// The header of an existing dataset (to write another one laid out like it).
    pub fn of_manifest(m: &Manifest) -> DatasetHeader {
        DatasetHeader {
            env: m.env.clone(),
            origin: m.origin,
            collection: m.collection.clone(),
            split: m.split.clone(),
            state_dim: m.state_dim,
            obs_dim: m.obs_dim,
            action_space: m.action_space,
            frames: m.frames.clone(),
        }
    }

    /// The manifest of this dataset before its first shard.
    pub fn fresh_manifest(self) -> Manifest {
        Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            env: self.env,
            origin: self.origin,
            collection: self.collection,
            split: self.split,
            state_dim: self.state_dim,
            obs_dim: self.obs_dim,
            action_space: self.action_space,
            frames: self.frames,
            counts: Counts::default(),
            shards: vec![],
            created_by: format!("vlgor {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The path of shard `index` inside a dataset directory.
pub fn shard_file(index: usize) -> String {
    format!("shards/episodes-{index:05}.safetensors")
}

/// Refuses to continue the dataset of manifest `m` (at `path`) with another `header`.
pub(super) fn check_header(
    m: &Manifest,
    header: &DatasetHeader,
    path: &Path,
) -> Result<(), DatasetError> {
    let mut diffs = vec![];
    if m.env != header.env {
        diffs.push(format!("env {} vs {}", m.env, header.env));
    }
    if m.origin != header.origin {
        diffs.push(format!("origin {:?} vs {:?}", m.origin, header.origin));
    }
    if m.collection != header.collection {
        diffs.push(format!(
            "collection {} vs {}",
            serde_json::to_string(&m.collection).unwrap_or_default(),
            serde_json::to_string(&header.collection).unwrap_or_default()
        ));
    }
    if m.frames != header.frames {
        diffs.push("frames stored differently".into());
    }
    if m.state_dim != header.state_dim
        || m.obs_dim != header.obs_dim
        || m.action_space != header.action_space
    {
        diffs.push("state/observation/action layout".into());
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(DatasetError::ArgumentsDiffer {
            path: path.to_path_buf(),
            difference: diffs.join("; "),
        })
    }
}

/// Appends shards to a dataset directory; the manifest is rewritten (atomically) after each.
pub struct DatasetWriter {
    dir: PathBuf,
    manifest: Manifest,
    layout: ShardLayout,
}

impl DatasetWriter {
    /// Opens `dir` for writing. A new directory gets a fresh manifest; an existing dataset
    /// resumes if its header matches `header`, else [`DatasetError::ArgumentsDiffer`].
    pub fn create_or_resume(
        dir: &Path,
        header: DatasetHeader,
    ) -> Result<DatasetWriter, DatasetError> {
        std::fs::create_dir_all(dir.join("shards")).map_err(|e| DatasetError::io(dir, e))?;
        atomic::remove_stale_temporaries(dir);
        atomic::remove_stale_temporaries(&dir.join("shards"));
        let manifest = if dir.join(MANIFEST_FILE).exists() {
            let m = Manifest::read(dir)?;
            check_header(&m, &header, &dir.join(MANIFEST_FILE))?;
            m
        } else {
            let m = header.fresh_manifest();
            m.write(dir)?;
            m
        };
        let layout = ShardLayout::of(&manifest);
        Ok(DatasetWriter {
            dir: dir.to_path_buf(),
            manifest,
            layout,
        })
    }

    /// Episodes already stored (a resumed collection continues from here).
    pub fn episodes_done(&self) -> usize {
        self.manifest.counts.episodes
    }

    /// Shards already stored.
    pub fn shards_done(&self) -> usize {
        self.manifest.shards.len()
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Writes one shard of episodes and records it in the manifest. A crash before the
    /// manifest write leaves an unlisted shard that the next run overwrites.
    pub fn append_shard(&mut self, episodes: &[EpisodeRecord]) -> Result<(), DatasetError> {
        let file = shard_file(self.manifest.shards.len());
        let (bytes, sha256) = write_shard(&self.dir.join(&file), episodes, &self.layout)?;
        self.manifest.record_shard(file, episodes, bytes, sha256);
        self.manifest.write(&self.dir)
    }
}
