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

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    /// A safetensors file holding `bert.`-prefixed tensors: a [4, 2] word embedding and a
    /// [3] f32 vector of the values 1, 2, 3.
    fn tiny_file() -> Vec<u8> {
        let word: Vec<u8> = (0..8).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let bias: Vec<u8> = [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let tensors = [
            (
                "bert.embeddings.word_embeddings.weight",
                TensorView::new(Dtype::F32, vec![4, 2], &word).unwrap(),
            ),
            (
                "bert.pooler.dense.bias",
                TensorView::new(Dtype::F32, vec![3], &bias).unwrap(),
            ),
        ];
        safetensors::serialize(tensors, None).unwrap()
    }

    #[test]
    fn prefix_is_detected_and_tensors_are_frozen_f32() {
        let bytes = tiny_file();
        let w = WeightFile::parse(Path::new("m.safetensors"), &bytes, Device::Cpu).unwrap();
        assert_eq!(w.prefix(), "bert.");
        let bias = w.take("pooler.dense.bias", &[3]).unwrap();
        assert!(!bias.requires_grad());
        assert_eq!(Vec::<f32>::try_from(&bias).unwrap(), [1.0, 2.0, 3.0]);
    }

    #[test]
    fn missing_and_misshaped_tensors_name_the_file_and_tensor() {
        let bytes = tiny_file();
        let w = WeightFile::parse(Path::new("m.safetensors"), &bytes, Device::Cpu).unwrap();
        let missing = w
            .take("encoder.layer.0.output.dense.bias", &[3])
            .unwrap_err();
        assert!(matches!(missing, EncoderError::MissingTensor { .. }));
        let message = missing.to_string();
        assert!(
            message.contains("encoder.layer.0.output.dense.bias"),
            "{message}"
        );
        assert!(message.contains("m.safetensors"), "{message}");
        let shape = w.take("pooler.dense.bias", &[4]).unwrap_err().to_string();
        assert!(shape.contains("[3]") && shape.contains("[4]"), "{shape}");
        let garbage = WeightFile::parse(Path::new("bad.safetensors"), b"garbage", Device::Cpu);
        assert!(
            garbage
                .err()
                .unwrap()
                .to_string()
                .contains("bad.safetensors")
        );
    }

    #[test]
    fn checksum_mismatch_names_the_file() {
        let file = std::env::temp_dir().join(format!("vlgor-sha-{}.bin", std::process::id()));
        std::fs::write(&file, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(read_verified(&file, abc).unwrap(), b"abc");
        let err = read_verified(&file, MODEL_SHA).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(err, EncoderError::Checksum { .. }));
        assert!(err.to_string().contains(&file.display().to_string()));
        let gone = read_verified(&file, abc).unwrap_err();
        assert!(matches!(gone, EncoderError::MissingFile { .. }), "{gone}");
    }

    const MODEL_SHA: &str = super::super::MODEL_SHA256;
}
