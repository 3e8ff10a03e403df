//! The BERT hyper-parameters, read from the model directory's `config.json` (HuggingFace format).

use std::path::Path;

use serde::Deserialize;

use super::EncoderError;

/// Activation of the feed-forward block (`hidden_act` in `config.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// GELU with the exact erf form, `x·Φ(x)` (`"gelu"`; all-MiniLM-L6-v2 uses it).
    Gelu,
    /// GELU's tanh approximation (`"gelu_new"`, `"gelu_pytorch_tanh"`).
    GeluTanh,
    /// `max(x, 0)` (`"relu"`).
    Relu,
}

impl Activation {
    /// The `hidden_act` names understood, for error messages.
    pub const NAMES: [&'static str; 4] = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"];

    fn parse(name: &str) -> Option<Self> {
        match name {
            "gelu" => Some(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Some(Self::GeluTanh),
            "relu" => Some(Self::Relu),
            _ => None,
        }
    }

    /// Applies the activation element-wise.
    pub fn apply(self, x: &tch::Tensor) -> tch::Tensor {
        match self {
            Self::Gelu => x.gelu("none"),
            Self::GeluTanh => x.gelu("tanh"),
            Self::Relu => x.relu(),
        }
    }
}

/// BERT encoder hyper-parameters (all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, FFN 1536,
/// vocab 30522, 512 positions, 2 token types, LayerNorm eps 1e-12, GELU).
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    /// Word-piece vocabulary size.
    pub vocab_size: i64,
    /// Width `d` of every token representation.
    pub hidden_size: i64,
    /// Number of encoder layers.
    pub num_hidden_layers: i64,
    /// Attention heads per layer; `hidden_size` must be divisible by it.
    pub num_attention_heads: i64,
    /// Inner width of the feed-forward block.
    pub intermediate_size: i64,
    /// Feed-forward activation.
    pub hidden_act: Activation,
    /// Number of learned absolute positions (the longest input in tokens).
    pub max_position_embeddings: i64,
    /// Number of token types (segments).
    pub type_vocab_size: i64,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
}

/// `config.json` as written by HuggingFace; extra keys are ignored.
#[derive(Deserialize)]
struct RawConfig {
    vocab_size: i64,
    hidden_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    intermediate_size: i64,
    hidden_act: String,
    max_position_embeddings: i64,
    type_vocab_size: i64,
    layer_norm_eps: f64,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

impl BertConfig {
    /// Reads and validates `config.json`; errors name the file and the bad key.
    pub fn from_file(file: &Path) -> Result<Self, EncoderError> {
        let text = std::fs::read_to_string(file).map_err(|source| EncoderError::Io {
            file: file.to_owned(),
            source,
        })?;
        Self::parse(file, &text)
    }

    /// Parses and validates the JSON `text` of `file` (named in errors).
    pub fn parse(file: &Path, text: &str) -> Result<Self, EncoderError> {
        let bad = |message: String| EncoderError::Config {
            file: file.to_owned(),
            message,
        };
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if let Some(kind) = raw.model_type.as_deref()
            && kind != "bert"
        {
            return Err(bad(format!("model_type is {kind:?}, valid: \"bert\"")));
        }
        if let Some(pos) = raw.position_embedding_type.as_deref()
            && pos != "absolute"
        {
            return Err(bad(format!(
                "position_embedding_type is {pos:?}, valid: \"absolute\""
            )));
        }
        let hidden_act = Activation::parse(&raw.hidden_act).ok_or_else(|| {
            bad(format!(
                "hidden_act is {:?}, valid: {}",
                raw.hidden_act,
                Activation::NAMES.join(", ")
            ))
        })?;
        let positive = [
            ("vocab_size", raw.vocab_size),
            ("hidden_size", raw.hidden_size),
            ("num_hidden_layers", raw.num_hidden_layers),
            ("num_attention_heads", raw.num_attention_heads),
            ("intermediate_size", raw.intermediate_size),
            ("max_position_embeddings", raw.max_position_embeddings),
            ("type_vocab_size", raw.type_vocab_size),
        ];
        if let Some((key, value)) = positive.iter().find(|(_, v)| *v <= 0) {
            return Err(bad(format!("{key} is {value}, must be a positive integer")));
        }
        if raw.hidden_size % raw.num_attention_heads != 0 {
            return Err(bad(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                raw.hidden_size, raw.num_attention_heads
            )));
        }
        if !(raw.layer_norm_eps > 0.0 && raw.layer_norm_eps.is_finite()) {
            return Err(bad(format!(
                "layer_norm_eps is {}, must be positive and finite",
                raw.layer_norm_eps
            )));
        }
        Ok(Self {
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: raw.num_attention_heads,
            intermediate_size: raw.intermediate_size,
            hidden_act,
            max_position_embeddings: raw.max_position_embeddings,
            type_vocab_size: raw.type_vocab_size,
            layer_norm_eps: raw.layer_norm_eps,
        })
    }

    /// Width of one attention head, `hidden_size / num_attention_heads`.
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINILM: &str = r#"{"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
        "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu",
        "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "model_type": "bert", "position_embedding_type": "absolute", "use_cache": true}"#;

    fn parse(text: &str) -> Result<BertConfig, EncoderError> {
        BertConfig::parse(Path::new("dir/config.json"), text)
    }

    #[test]
    fn minilm_config_parses() {
        let c = parse(MINILM).unwrap();
        assert_eq!(
            (c.hidden_size, c.head_dim(), c.num_hidden_layers),
            (384, 32, 6)
        );
        assert_eq!(c.hidden_act, Activation::Gelu);
        assert_eq!(c.layer_norm_eps, 1e-12);
    }

    #[test]
    fn bad_configs_name_the_file_key_and_valid_values() {
        let cases = [
            (MINILM.replace("\"gelu\"", "\"swish\""), "gelu_new"),
            (
                MINILM.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 7"),
                "divisible",
            ),
            (
                MINILM.replace("\"hidden_size\": 384", "\"hidden_size\": 0"),
                "hidden_size is 0",
            ),
            (MINILM.replace("\"bert\"", "\"gpt2\""), "valid: \"bert\""),
            (
                MINILM.replace("\"absolute\"", "\"relative_key\""),
                "absolute",
            ),
            (MINILM.replace("\"vocab_size\": 30522,", ""), "vocab_size"),
        ];
        for (text, needle) in cases {
            let message = parse(&text).unwrap_err().to_string();
            assert!(message.contains("dir/config.json"), "{message}");
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
    }
}
