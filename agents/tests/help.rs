//! `--help` lists the allowed values of every enum flag, and bad values are refused by the
//! parser with exit status 2 before any work starts.

use std::process::{Command, Output};

fn vlgor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vlgor"))
        .args(args)
        .output()
        .expect("run vlgor")
}

fn help(command: &str) -> String {
    let o = vlgor(&[command, "--help"]);
    assert!(o.status.success(), "{command} --help");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `Possible values` block (or `[possible values: ...]` list) of `flag` in a long help.
fn values_of(text: &str, flag: &str) -> String {
    let options = &text[text.find("Options:").expect("an options section")..];
    let start = options
        .find(&format!("--{flag} <"))
        .unwrap_or_else(|| panic!("--{flag} not in help"));
    let rest = &options[start..];
    let end = rest[2..].find("\n      --").map_or(rest.len(), |e| e + 2);
    rest[..end].to_string()
}

#[test]
fn every_enum_flag_lists_its_values() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("eval", "env", &["clevr", "metaworld"]),
        ("eval", "policy", &["expert", "random", "PATH", "MODULE.pt"]),
        ("view", "policy", &["expert", "random", "PATH", "MODULE.pt"]),
        ("eval", "task", &["reach", "coffee-button-press", "all"]),
        (
            "eval",
            "level",
            &[
                "seen",
                "rephrase",
                "counterfactual",
                "unseen-relation",
                "hard",
            ],
        ),
        ("eval", "reference", &["random", "expert", "none"]),
        ("eval", "preset", &["quick", "paper"]),
        ("train-policy", "env", &["clevr", "metaworld"]),
        ("train-policy", "algo", &["bc", "cql"]),
        ("train-policy", "obs", &["image", "state"]),
        ("imagine", "env", &["clevr", "metaworld"]),
        ("imagine", "filter", &["truncate", "drop", "keep"]),
        ("imagine", "dynamics", &["world-model", "simulator"]),
        ("imagine", "generator", &["world-model", "kalm"]),
        ("train-kalm", "env", &["clevr", "metaworld"]),
        (
            "imagine",
            "instructions",
            &[
                "seen",
                "hard",
                "counterfactual-target",
                "counterfactual-behavior",
                "aimed-LEVEL-target",
                "FILE.jsonl",
            ],
        ),
        ("check", "policy", &["drop", "truncate"]),
        ("collect", "task", &["reach", "all"]),
        ("train-vlm", "stage", &["base", "lora", "full", "readout"]),
    ];
    for (command, flag, values) in cases {
        let block = values_of(&help(command), flag);
        for v in *values {
            assert!(
                block.contains(v),
                "{command} --{flag}: '{v}' not listed in\n{block}"
            );
        }
    }
}

#[test]
fn bad_enum_values_are_refused_with_status_2() {
    for args in [
        &["eval", "--env", "mujoco"][..],
        &["eval", "--env", "metaworld", "--task", "juggle"],
        &[
            "train-policy",
            "--env",
            "clevr",
            "--algo",
            "ppo",
            "--data",
            "x",
            "--out",
            "y",
        ],
        &["check", "somewhere", "--policy", "keep"],
        &[
            "imagine",
            "--vlm",
            "v",
            "--env",
            "clevr",
            "--instructions",
            "seen",
            "--from",
            "f",
            "--count",
            "1",
            "--out",
            "o",
            "--filter",
            "cut",
        ],
    ] {
        let o = vlgor(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid value"), "{args:?}: {err}");
    }
    // CLEVR has no tasks: a clear input error, not a panic.
    let o = vlgor(&[
        "eval",
        "--env",
        "clevr",
        "--task",
        "reach",
        "--episodes",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("CLEVR has no tasks"));
}

#[test]
fn export_policy_help_states_the_torchscript_contract() {
    let text = help("export-policy");
    for needle in ["RUN_OR_CHECKPOINT", "--out <MODULE.pt>", "TorchScript"] {
        assert!(
            text.contains(needle),
            "export-policy --help lacks {needle:?}:\n{text}"
        );
    }
}
