//! Checksummed weight loading: the file's bytes are read once, their sha256 is compared with the
//! pinned value, and the very same bytes are parsed as safetensors, so what is verified is what
//! is loaded. Tensors come out as frozen `f32` leaves (no gradient) on the requested device.

use std::io::Read;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};
use tch::{Device, Kind, Tensor};

use super::EncoderError;
use super::layers::{LayerNorm, Linear};

/// Reads `file` whole and checks its sha256 against `expected` (lower-case hex).
///
/// Returns the bytes on success; [`EncoderError::MissingFile`] if the file is absent and
/// [`EncoderError::Checksum`] (naming the file, both digests) if it differs.
pub fn read_verified(file: &Path, expected: &str) -> Result<Vec<u8>, EncoderError> {
    let mut handle = std::fs::File::open(file).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            EncoderError::MissingFile {
                file: file.to_owned(),
            }
        } else {
            EncoderError::Io {
                file: file.to_owned(),
                source,
            }
        }
    })?;
    let mut bytes = Vec::new();
    handle
        .read_to_end(&mut bytes)
        .map_err(|source| EncoderError::Io {
            file: file.to_owned(),
            source,
        })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != expected {
        return Err(EncoderError::Checksum {
            file: file.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(bytes)
}

/// A parsed safetensors file from which the model's sub-modules take their parameters by name.
pub struct WeightFile<'a> {
    file: PathBuf,
    tensors: SafeTensors<'a>,
    /// Prefix in front of every BERT tensor name: `""`, `"bert."`, `"0.auto_model."`, ...
    prefix: String,
    device: Device,
}

/// A tensor name every BERT checkpoint holds; its prefix is the checkpoint's prefix.
const ANCHOR: &str = "embeddings.word_embeddings.weight";

impl<'a> WeightFile<'a> {
    /// Parses `bytes` (the content of `file`) and detects the name prefix.
    pub fn parse(file: &Path, bytes: &'a [u8], device: Device) -> Result<Self, EncoderError> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| EncoderError::Config {
            file: file.to_owned(),
            message: format!("not a valid safetensors file: {e}"),
        })?;
        let anchor = tensors
            .names()
            .into_iter()
            .filter_map(|n| n.strip_suffix(ANCHOR))
            .min_by_key(|p| p.len())
            .map(str::to_owned);
        let mut weights = Self {
            file: file.to_owned(),
            tensors,
            prefix: String::new(),
            device,
        };
        match anchor {
            Some(prefix) => weights.prefix = prefix,
            None => return Err(weights.missing(ANCHOR)),
        }
        Ok(weights)
    }

    /// The detected tensor-name prefix (empty for the sentence-transformers export).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn missing(&self, name: &str) -> EncoderError {
        let mut names = self.tensors.names();
        names.sort_unstable();
        EncoderError::MissingTensor {
            file: self.file.clone(),
            name: name.to_owned(),
            prefix: self.prefix.clone(),
            count: names.len(),
            examples: names.iter().take(4).copied().collect::<Vec<_>>().join(", "),
        }
    }

    /// The tensor `prefix + name`, checked to have `shape`, as frozen `f32` on the device.
    pub fn take(&self, name: &str, shape: &[i64]) -> Result<Tensor, EncoderError> {
        let full = format!("{}{name}", self.prefix);
        let view = self.tensors.tensor(&full).map_err(|_| self.missing(name))?;
        let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let kind = match view.dtype() {
            Dtype::F32 => Some(Kind::Float),
            Dtype::F16 => Some(Kind::Half),
            Dtype::BF16 => Some(Kind::BFloat16),
            _ => None,
        };
        let Some(kind) = kind.filter(|_| found == shape) else {
            return Err(EncoderError::BadTensor {
                file: self.file.clone(),
                name: full,
                expected: format!("{shape:?} F32/F16/BF16"),
                actual: format!("{found:?} {:?}", view.dtype()),
            });
        };
        let tensor = Tensor::f_from_data_size(view.data(), shape, kind)?
            .f_to_kind(Kind::Float)?
            .f_to_device(self.device)?;
        Ok(tensor.set_requires_grad(false))
    }

    /// A dense layer `y = x·Wᵀ + b` from `{name}.weight` `[out, in]` and `{name}.bias` `[out]`.
    pub fn linear(&self, name: &str, input: i64, output: i64) -> Result<Linear, EncoderError> {
        Ok(Linear {
            weight: self.take(&format!("{name}.weight"), &[output, input])?,
            bias: self.take(&format!("{name}.bias"), &[output])?,
        })
    }

    /// A LayerNorm over the last `dim` features from `{name}.weight` and `{name}.bias`.
    pub fn layer_norm(&self, name: &str, dim: i64, eps: f64) -> Result<LayerNorm, EncoderError> {
        Ok(LayerNorm {
            gamma: self.take(&format!("{name}.weight"), &[dim])?,
            beta: self.take(&format!("{name}.bias"), &[dim])?,
            eps,
        })
    }
}
