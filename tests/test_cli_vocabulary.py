"""One flag vocabulary (README "Flag vocabulary"): no retired spelling is visible, ``--json`` takes a path
(``-``: stdout), ``--help`` shows every default, old spellings still parse with one warning, and commands
given input they cannot use exit 2 with one line (README "Exit codes")."""

from __future__ import annotations

import argparse
import json

import pytest

from tools.cli import build_parser, main
from tools.vocabulary import RenamedFlag, describe_default, every_parser, meaningful_default, states_default

RETIRED = {"--seconds", "--scenario", "--sim", "--bench", "--target", "--root", "--trial-dir", "--run-dir", "--dir"}

# (command, what else it requires, old spelling and value, new spelling)
RENAMED = [
    ("sim check", [], ["--seconds", "1.5"], "--duration"),
    ("sim render", [], ["--seconds", "1.5"], "--duration"),
    ("teacher train", [], ["--run-dir", "runs/x"], "--out"),
    ("teacher eval", ["RUN"], ["--seconds", "1.5"], "--duration"),
    ("teacher tune-prior", [], ["--sim", "sim.yaml"], "--config"),
    ("teacher tune-profile", ["RUN"], ["--seconds", "1.5"], "--duration"),
    ("teacher tune-slope", ["RUN", "--slope", "5"], ["--seconds", "1.5"], "--duration"),
    ("teacher synergies", ["RUN"], ["--seconds", "1.5"], "--duration"),
    ("keys new", ["lab"], ["--dir", "somewhere"], "--out"),
    ("device install", ["BUNDLE"], ["--target", "exo@pc:/opt/hipexo"], "--device-root"),
    ("device rollback", [], ["--target", "/opt/hipexo"], "--device-root"),
    ("device status", [], ["--target", "/opt/hipexo"], "--device-root"),
    ("device receive", ["--staged", "s"], ["--root", "/opt/hipexo"], "--device-root"),
    ("run", ["--baseline"], ["--trial-dir", "trials"], "--out"),
    ("bench", [], ["--scenario", "bench.yaml"], "--config"),
    ("demo", [], ["--bench", "bench.yaml"], "--bench-config"),
]


def visible_actions():
    for parser in every_parser(build_parser()):
        for action in parser._actions:
            if action.help is not argparse.SUPPRESS and not isinstance(action, argparse._SubParsersAction):
                yield parser, action


def test_no_command_shows_a_retired_flag():
    shown = {(parser.prog, o) for parser, action in visible_actions() for o in action.option_strings}
    assert {(prog, o) for prog, o in shown if o in RETIRED} == set()
    assert ("hipexo bench", "--config") in shown and ("hipexo device status", "--device-root") in shown


def test_every_json_option_takes_a_path():
    json_options = [(p.prog, a) for p, a in visible_actions() if a.dest == "json"]
    assert {prog for prog, _ in json_options} == {"hipexo bench", "hipexo teacher eval", "hipexo device status"}
    for prog, action in json_options:
        assert action.nargs != 0 and action.metavar == "PATH", prog


def test_every_option_and_argument_has_help():
    missing = [f"{p.prog} {a.option_strings or a.dest}" for p, a in visible_actions() if not a.help]
    assert missing == []


def test_help_shows_every_meaningful_default():
    parsers = list(every_parser(build_parser()))
    checked = 0
    for parser in parsers:
        text = " ".join(parser.format_help().split())
        for action in parser._actions:
            if meaningful_default(action) and not states_default(action.help or ""):
                assert f"(default: {describe_default(action.default)})" in text, (parser.prog, action.option_strings)
                checked += 1
    assert checked > 40
    by_prog = {p.prog: " ".join(p.format_help().split()) for p in parsers}
    assert "--config PATH kind: bench YAML (default: configs/bench/default.yaml)" in by_prog["hipexo bench"]
    assert "--seed SEED seeds the search's sampling (default: 0)" in by_prog["hipexo teacher tune-prior"]
    assert "(default: 0.8 1.0 1.25 1.5)" in by_prog["hipexo teacher tune-prior"]
    assert (
        "--out DIR writes search.csv and best.yaml (default: runs/prior-search)" in by_prog["hipexo teacher tune-prior"]
    )
    assert "--duration SECONDS episode length (default: 10.0)" in by_prog["hipexo teacher eval"]
    assert "(default: None)" not in " ".join(by_prog.values()) and "(default: False)" not in " ".join(by_prog.values())


@pytest.mark.parametrize(("command", "required", "old", "new"), RENAMED, ids=[f"{c} {o[0]}" for c, _, o, _ in RENAMED])
def test_a_retired_spelling_still_parses_and_warns_once_naming_the_new_flag(command, required, old, new, capsys):
    parser = build_parser()
    with_new = parser.parse_args([*command.split(), *required, new, old[1]])
    assert capsys.readouterr().err == ""
    with_old = parser.parse_args([*command.split(), *required, *old])
    assert capsys.readouterr().err == f"hipexo: warning: {old[0]} is deprecated: use {new}\n"
    assert vars(with_old) == vars(with_new)


def test_every_retired_spelling_in_the_parser_is_tested_above():
    aliases = {
        (parser.prog, option)
        for parser in every_parser(build_parser())
        for action in parser._actions
        if isinstance(action, RenamedFlag)
        for option in action.option_strings
    }
    tested = {(f"hipexo {command}", old[0]) for command, _, old, _ in RENAMED}
    assert aliases == tested


def test_a_retired_spelling_does_what_the_new_flag_does(tmp_path, capsys):
    assert main(["keys", "new", "lab", "--dir", str(tmp_path / "keys")]) == 0
    assert (tmp_path / "keys" / "lab.key").is_file() and (tmp_path / "keys" / "lab.pub").is_file()
    assert capsys.readouterr().err == "hipexo: warning: --dir is deprecated: use --out\n"


def test_json_dash_is_stdout_and_a_path_is_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # '-' must not become a file named '-' in the working directory
    (tmp_path / "device").mkdir()
    assert main(["device", "status", "--device-root", "device", "--json", "-"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["root"] == "device" and printed["versions"] == [] and printed["active"] is None
    assert main(["device", "status", "--device-root", "device", "--json", "status/now.json"]) == 0
    assert capsys.readouterr().out == "" and json.loads((tmp_path / "status/now.json").read_text()) == printed
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trial", "list", "{tmp}/missing"], "{tmp}/missing: no such folder"),
        (["config", "validate", "{tmp}"], "no *.yaml files found in {tmp}"),
        (["keys", "new", "lab", "--out", "{tmp}/file.txt/keys"], "{tmp}/file.txt/keys/lab.key"),
        (["teacher", "tune-slope", "{tmp}", "--slope", "5"], "{tmp}: no teacher checkpoint"),
        (["teacher", "tune-profile", "{tmp}"], "{tmp}: no teacher checkpoint"),
        (["teacher", "synergies", "{tmp}"], "{tmp}: no teacher checkpoint"),
        (["teacher", "clone-profile", "{tmp}", "--profile", "p.json", "--out", "{tmp}/c"], "{tmp}: no teacher"),
        (["demo", "--teacher", "{tmp}", "--out", "{tmp}/demo"], "{tmp}: no teacher checkpoint"),
    ],
    ids=["trial-list", "config-validate", "keys-new", "tune-slope", "tune-profile", "synergies", "clone", "demo"],
)
def test_input_a_command_cannot_use_exits_2_with_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("hipexo: error: "), err
    assert message.format(tmp=tmp_path) in err
    assert not (tmp_path / "demo").exists()
