"""The command line through click's CliRunner: help, version, plugins, check, sweep errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner import __version__
from runner.cli import cli


def invoke(*args: str, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def test_help_lists_commands_with_examples():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("sweep", "report", "plugins", "check"):
        assert command in result.output
    assert "runner sweep experiments/xor.csv" in result.output
    sweep_help = invoke("sweep", "--help")
    assert sweep_help.exit_code == 0
    assert "--dry-run" in sweep_help.output and "Examples" in sweep_help.output


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_plugins_json_lists_every_kind():
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    kinds = {r["kind"] for r in rows}
    assert kinds >= {"activation", "cost", "step_rule", "strategy", "initializer", "dataset"}
    gd = next(r for r in rows if r["name"] == "gd")
    assert gd["distribution"] == "runner-mlp"
    lr = next(p for p in gd["parameters"] if p["name"] == "learning_rate")
    assert lr["per_member"] is True and lr["default"] == 0.1


def test_plugins_table_is_readable():
    result = invoke("plugins", "--kind", "step_rule")
    assert result.exit_code == 0
    assert "momentum" in result.output and "learning_rate" in result.output
    assert "sigmoid" not in result.output


def test_check_passes_and_unknown_name_is_a_clear_error():
    ok = invoke("check", "sigmoid", "momentum")
    assert ok.exit_code == 0, ok.output
    assert "ok   activation sigmoid" in ok.output
    bad = CliRunner().invoke(cli, ["check", "sigmod"])
    assert bad.exit_code == 2
    assert "did you mean 'sigmoid'?" in bad.output
    assert "Traceback" not in bad.output


def test_sweep_bad_table_exits_2_with_one_line_per_problem(tmp_path: Path):
    """(That nothing is written and no traceback shows: tests/test_e2e.py, in a real process.)"""
    table = tmp_path / "bad.csv"
    table.write_text("dataset,activation,epochs\nxor,sigmod,10\nxor,tanh,-3\n")
    result = CliRunner().invoke(
        cli, ["sweep", str(table), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
    )
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) >= 2
    assert any("row 1" in e and "activation" in e and "sigmod" in e for e in errors)
    assert any("row 2" in e and "epochs" in e and "-3" in e for e in errors)


def test_sweep_missing_file_is_a_clear_error(tmp_path: Path):
    result = CliRunner().invoke(cli, ["sweep", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "nope.csv" in result.output and "Traceback" not in result.output


def test_sweep_dry_run_prints_plan(tmp_path: Path):
    table = tmp_path / "t.csv"
    table.write_text("dataset,seed,epochs\nxor,0..3,10\n")
    result = invoke(
        "sweep", str(table), "--dry-run", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"
    )
    assert result.exit_code == 0
    assert "4 to run, 0 already done, 4 in total" in result.output
    assert "xor-seed3" in result.output  # only the seed varies: the data set names the runs
    assert not (tmp_path / "m.db").exists()


def test_an_80_column_terminal_shows_the_results_without_wrapping_a_row(sqlite_uri, tmp_path):
    table = tmp_path / "xor.csv"
    table.write_text(
        "dataset,hidden,optimizer,learning_rate,epochs,seed\nxor,2,momentum,0.5,50,0..2\n"
    )
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["sweep", str(table), "--tracking-uri", sqlite_uri, "--jobs", "1", "-q"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    finished = lines.index(next(x for x in lines if x.startswith("finished ")))
    assert max(len(line) for line in lines[:finished]) <= 80
    # the study first: the per-configuration table and its notes answer the question
    title = next(i for i, line in enumerate(lines) if "xor: per configuration" in line)
    best = next(i for i, line in enumerate(lines) if "best 3 runs of xor" in line)
    assert title < best < finished
    assert any(line.split()[:2] == ["1.", "row"] and " 3 " in line for line in lines[title:best])
    # then the few best runs, each run's name and id whole on a line of its own
    for seed in range(3):
        assert any(f"xor-seed{seed}" in line for line in lines[best:finished])
    ids = [word for line in lines[best:finished] for word in line.split() if len(word) == 32]
    assert len(ids) == 3


def test_report_prints_the_per_configuration_table_in_80_columns(study_store):
    uri, table, _ = study_store
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["report", str(table), "--tracking-uri", uri], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "xor_study: per configuration" in result.output
    words = " ".join(result.output.split())  # the notes under the table wrap at 80
    assert "critical points:" in words and "restarts alone" in words


def test_report_json_is_the_study(study_store):
    from runner.sweep import study

    uri, table, _ = study_store
    result = invoke("report", "--experiment", table.stem, "--tracking-uri", uri, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = study(table.stem, tracking_uri=uri).to_json()
    assert data["groups"] == json.loads(json.dumps(expected["groups"]))
    assert [g["runs"] for g in data["groups"]] == [6, 6]


def test_report_out_writes_the_figures_and_the_csv(study_store, tmp_path):
    uri, table, _ = study_store
    out = tmp_path / "figures"
    result = invoke(
        "report", str(table), "--tracking-uri", uri, "--out", str(out), "--by", "restarts"
    )
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert "summary.csv" in written and "final_loss.png" in written
    assert "restarts=3" in (out / "summary.csv").read_text()


def test_report_errors_are_one_line_and_exit_2(study_store, tmp_path):
    uri, table, _ = study_store
    cases = [
        ([], "give a TABLE or --experiment NAME"),
        (["--experiment", "xor_studdy", "--tracking-uri", uri], "did you mean 'xor_study'?"),
        ([str(table), "--tracking-uri", uri, "--by", "learning_rat"], "did you mean"),
    ]
    for args, says in cases:
        result = CliRunner().invoke(cli, ["report", *args])
        assert result.exit_code == 2, result.output
        assert says in result.output and "Traceback" not in result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(errors) == 1


def test_plugin_descriptions_are_shown_as_written_and_fit_80_columns():
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["plugins", "--kind", "cost"])
    assert result.exit_code == 0
    assert "C = -[y" in result.output  # not eaten as markup
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "categorical_cross_entropy" in result.output  # names whole, never cut


def test_the_rank_by_choices_are_the_sweeps():
    from runner.sweep import RANK_METRICS

    (option,) = [p for p in cli.commands["sweep"].params if p.name == "rank_by"]
    assert tuple(option.type.choices) == RANK_METRICS


def test_report_on_a_store_that_does_not_exist_is_one_line_and_creates_nothing(tmp_path: Path):
    store = tmp_path / "nowhere" / "mlflow.db"
    result = invoke("report", "--experiment", "xor", "--tracking-uri", f"sqlite:///{store}")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: tracking store sqlite:///{store}: no such file {store}; nothing was recorded there"
    ]
    assert not (tmp_path / "nowhere").exists()


def test_report_of_objective_runs_names_the_minima_reached(objective_store):
    uri, table, _ = objective_store
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["report", str(table), "--tracking-uri", uri], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    lines = result.output.splitlines()
    header = lines[: next(i for i, line in enumerate(lines) if line.startswith("────"))]
    first, second = header[-2:]  # the success column's header, over two lines
    assert "global" in first.split() and "minimum" in second.split()
    words = " ".join(result.output.split())  # the notes under the table wrap at 80
    assert "reached the global minimum 0/4; minima reached: none 4" in words
    data = json.loads(invoke("report", str(table), "--tracking-uri", uri, "--json").output)
    assert [g["objective"] for g in data["groups"]] == ["himmelblau"] * 4
    for group in data["groups"]:  # each minimum reached, and how often, in its note
        note = words.split(f"{group['label']}: ")[1].split("; f mean")[0]
        said = note.split("minima reached: ")[1]
        assert said == ", ".join(f"{k} {n}" for k, n in group["minima_reached"].items())


def test_sweep_help_and_the_readme_list_every_exit_code_from_one_list():
    import re

    from runner.cli import SWEEP_EXIT_CODES

    assert {0, 1, 2, 130, 143, 129} <= set(SWEEP_EXIT_CODES)
    help_text = invoke("sweep", "--help").output
    listed = dict(re.findall(r"^ +(\d+) +(.+)$", help_text.split("Exit codes:")[1], re.M))
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    in_readme = dict(re.findall(r"^- `(\d+)`: (.+)$", readme, re.M))
    expected = {str(code): meaning for code, meaning in SWEEP_EXIT_CODES.items()}
    assert {k: listed[k] for k in expected if k in listed} == expected
    assert in_readme == expected


def sweep_at_80_columns(table: Path, text: str, uri: str) -> str:
    """What ``runner sweep TABLE -q --no-report`` prints in an 80-column terminal, for a
    table of ``text``; it must succeed."""
    table.write_text(text)
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["sweep", str(table), "--tracking-uri", uri, "-q", "--no-report"]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _best_table(output: str) -> list[str]:
    """The lines of the best-runs table, from its column header to its last row."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "run name / run id" in line)
    end = next(i for i in range(start + 2, len(lines)) if not lines[i].strip())
    return lines[start:end]


def test_objective_runs_show_f_not_a_networks_columns_and_names_break_between_tokens(
    sqlite_uri, tmp_path
):
    output = sweep_at_80_columns(
        tmp_path / "valley.csv",
        "objective,optimizer,learning_rate,momentum,restarts,epochs,gradient_tolerance,seed\n"
        "rosenbrock,momentum,0.0005|0.00025,0.9,1|2,30|40,1e-6|1e-7,0\n",
        sqlite_uri,
    )
    assert "cross_entropy" not in output and "train loss" not in output
    header, _, *rows = _best_table(output)
    assert header.split()[1:] == ["name", "/", "run", "id", "f", "|grad", "f|", "iterations"]
    assert max(len(line) for line in rows) <= 80
    names, pieces = [], []
    for line in (line.split()[0] for line in rows):
        if re.fullmatch(r"[0-9a-f]{32}", line):  # a run's id, whole, under its name
            names.append(pieces)
            pieces = []
        else:
            pieces.append(line)
    assert len(names) == 10 and not pieces
    for broken in names:  # broken only after a token's '-', never inside a number
        name = "".join(broken)
        tokens = r"rosenbrock-lr0\.000(5|25)-restarts[12]-e[34]0-gtol1e-0[67]-seed0"
        assert re.fullmatch(tokens, name), name
        assert all(piece.endswith("-") and not piece.endswith("e-") for piece in broken[:-1])
    assert any(len(broken) > 1 for broken in names)


def test_objectives_that_do_not_compare_show_no_best_runs_table(sqlite_uri, tmp_path):
    output = sweep_at_80_columns(
        tmp_path / "two.csv",
        "objective,optimizer,learning_rate,epochs,seed\n"
        "himmelblau,gd,0.01,50,0..1\nrosenbrock,gd,0.001,50,0..1\n",
        sqlite_uri,
    )
    assert "best 4 runs" not in output and "run id" not in output
    assert "cross_entropy" not in output and "train loss" not in output
    assert "(himmelblau, rosenbrock), whose values do not compare: no best run" in " ".join(
        output.split()
    )


def test_at_80_columns_a_run_id_beside_test_loss_and_accuracy_is_whole(sqlite_uri, tmp_path):
    output = sweep_at_80_columns(
        tmp_path / "moons.csv",
        "dataset,hidden,output_activation,cost,learning_rate,epochs,test_size,seed\n"
        "moons,4,sigmoid,cross_entropy,0.1,5,0.25,0..1\n",
        sqlite_uri,
    )
    header, _, *rows = _best_table(output)
    assert header.split()[-6:] == ["train", "loss", "test", "loss", "accuracy", "epochs"]
    assert max(len(line) for line in rows) <= 80
    firsts = [line.split()[0] for line in rows]
    assert len(firsts) == 4 and sorted(firsts[0::2]) == ["moons-seed0", "moons-seed1"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", run_id) for run_id in firsts[1::2])


def test_plugins_at_80_columns_are_blocks_with_parameters_and_descriptions_whole():
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80 and len(lines) < 160
    words = " ".join(result.output.split())
    for plugin in json.loads(invoke("plugins", "--json").output):
        assert " ".join(plugin["description"].split()) in words  # the paragraph, never cut
        for p in plugin["parameters"]:  # name=default on one line, never inside a number
            said = f"{p['name']}={p['default']!r}: {p['accepted']}"
            assert any(said.split(" ")[0] in line.split() for line in lines), said
    assert "(e + 1)^power_t." in words and "to ``f`` eta (``min_factor``) after the last" in words
    assert "step_rule (column optimizer), from runner-mlp" in words


def test_plugins_kind_accepts_the_words_users_use_and_names_the_kinds_otherwise():
    step_rules = invoke("plugins", "--kind", "step_rule").output
    assert "momentum" in step_rules and "sigmoid" not in step_rules
    for word in ("optimizer", "optimizers", "Optimizer", "step-rule", "step_rules"):
        assert invoke("plugins", "--kind", word).output == step_rules, word
    assert "squared_error" in invoke("plugins", "--kind", "loss").output
    assert "softmax" in invoke("plugins", "--kind", "output_activation").output
    bad = CliRunner().invoke(cli, ["plugins", "--kind", "optimzer"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert bad.output.splitlines() == [
        "Error: --kind 'optimzer' is not a kind of plugin; did you mean 'optimizer'? accepted: "
        "activation, cost, dataset, initializer, objective, schedule, step_rule, strategy "
        "(or the table's columns optimizer, output_activation)"
    ]


def test_a_bad_experiment_name_is_refused_before_any_store_is_created(tmp_path: Path):
    table = tmp_path / "xor.csv"
    table.write_text("dataset,hidden,activation,epochs,seed\nxor,2,tanh,5,0\n")
    store = tmp_path / "mlflow.db"
    uri = f"sqlite:///{store}"
    refused = [
        ("a" * 5000, "has 5000 characters"),
        ("   ", "is blank"),
        (" xor", "has spaces around it"),
        ("x\ny", "holds a control character"),
    ]
    for name, why in refused:
        for args in (["sweep", str(table)], ["sweep", str(table), "--dry-run"], ["report"]):
            result = invoke(*args, "--experiment", name, "--tracking-uri", uri)
            assert result.exit_code == 2, result.output
            [line] = result.stderr.splitlines()
            assert line.startswith("Error: --experiment: experiment name ") and why in line
            assert len(line) < 300 and not store.exists()


def _printed_study(rows: list) -> str:
    """What ``print_study`` prints at 80 columns for a study of these runs."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from runner.analysis import summarize
    from runner.cli.report import print_study

    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    print_study(SimpleNamespace(groups=summarize(rows), experiment="e", by=(), files=[]), console)
    return out.getvalue()


def _moons_run(seed: int, configuration: str, cost: str, test: float, point: str | None = None):
    from _specs import row_of

    return row_of(
        seed,
        configuration=configuration,
        name=f"{cost}-{configuration}",
        params={"dataset": "moons", "cost": cost},
        finals={"train_loss": 0.1, "train_accuracy": 0.97, "test_accuracy": test},
        critical_point=point,
    )


def test_the_study_shows_accuracy_and_never_puts_two_costs_side_by_side():
    rows = [
        _moons_run(0, "a", "cross_entropy", 0.96),
        _moons_run(1, "a", "cross_entropy", 0.98),
        _moons_run(0, "b", "squared_error", 0.85),
    ]
    text = _printed_study(rows)
    assert max(len(line) for line in text.splitlines()) <= 80
    tables = text.split("\nsuccess:")[0].split("e: per configuration")[1:]
    assert len(tables) == 2  # one table per cost, each naming it
    assert tables[0].startswith(" (loss: cross_entropy)") and "squared_error-b" not in tables[0]
    assert tables[1].startswith(" (loss: squared_error)") and "cross_entropy-a" not in tables[1]
    assert "acc." in tables[0] and "0.970" in tables[0]  # the median test accuracy
    assert "2/2" in tables[0] and "0/1" in tables[1]
    assert "success: test accuracy >= 0.9, as moons declares" in text


def test_end_points_none_stationary_are_one_plain_line():
    rows = [_moons_run(s, "a", "cross_entropy", 0.96, "saddle not stationary") for s in range(3)]
    words = " ".join(_printed_study(rows).split())
    assert "saddle not stationary" not in words
    assert "critical points: no run ended at a stationary point" in words
    rows[0].critical_point = "minimum stationary"
    words = " ".join(_printed_study(rows).split())
    assert "critical points: saddle not stationary 2, minimum stationary 1" in words
    assert "critical points, in words: minimum, the cost curves up in every direction" in words
    assert "saddle, up in some directions and down in others" in words


def test_report_on_an_odd_store_is_one_line_and_leaves_the_store_as_it_was(study_store, tmp_path):
    """A text file, a truncated store, an empty file, a database without MLflow's tables and a
    store another program holds locked: one line, exit 2, not a byte of the file changed
    (issue 25.8)."""
    import hashlib
    import sqlite3

    uri, table, _ = study_store
    whole = Path(uri.removeprefix("sqlite:///")).read_bytes()
    stores = {
        "text": (b"not a database\n", "is damaged (SQLite's quick check: file is not a database)"),
        "truncated": (whole[:50_000], "is damaged (SQLite's quick check: "),
        "empty": (b"", "is empty (0 bytes); nothing was recorded there"),
        "locked": (whole, "is locked by another program (database is locked)"),
    }
    for name, (content, _) in stores.items():
        (tmp_path / f"{name}.db").write_bytes(content)
    with sqlite3.connect(tmp_path / "other.db") as con:
        con.execute("create table t (x)")
    stores["other"] = (b"", "is a SQLite database without MLflow's tables")
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program writing, a lock held
    try:
        for name, (_, says) in stores.items():
            path = tmp_path / f"{name}.db"
            before = hashlib.sha256(path.read_bytes()).hexdigest()
            result = CliRunner().invoke(cli, ["report", str(table), "--tracking-uri",
                                              f"sqlite:///{path}"])  # fmt: skip
            assert result.exit_code == 2, (name, result.output)
            assert "Traceback" not in result.output and "INFO" not in result.output
            [line] = result.output.splitlines()
            assert line.startswith(f"Error: tracking store sqlite:///{path}: {path} ")
            assert says in line, line
            assert hashlib.sha256(path.read_bytes()).hexdigest() == before, name
    finally:
        holder.close()
    dry = CliRunner().invoke(cli, ["sweep", str(table), "--dry-run", "--tracking-uri",
                                   f"sqlite:///{tmp_path / 'empty.db'}"])  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert (tmp_path / "empty.db").stat().st_size == 0  # a dry run writes nothing, no schema


def test_report_out_where_nothing_can_be_written_is_one_line(study_store, tmp_path):
    uri, table, _ = study_store
    (tmp_path / "a-file").write_text("x")
    for out, says in [
        (tmp_path / "a-file" / "report", f"{tmp_path / 'a-file'} is a file, not a folder"),
        (Path("/proc/runner-report"), "cannot write there (No such file or directory"),
    ]:
        result = CliRunner().invoke(cli, ["report", str(table), "--tracking-uri", uri,
                                          "--out", str(out)])  # fmt: skip
        assert result.exit_code == 2, result.output
        [line] = result.output.splitlines()
        assert line.startswith(f"Error: --out {out}: ") and says in line, line
        assert "Traceback" not in result.output


def test_report_shows_the_second_derivative_test_and_no_minimum_where_there_is_none(
    lesson_store,
):
    """The notes' test per configuration: r, s, t, rt - s^2 and the verdict, in the terminal
    (80 columns) and the JSON; x^2 - y^2 has no success count (it has no minimum); x^4 + y^4's
    end points are degenerate: the test fails."""
    from mlflow import MlflowClient

    uri, table = lesson_store
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        cli, ["report", str(table), "--tracking-uri", uri], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    title = next(i for i, line in enumerate(lines) if "second-derivative test" in line)
    words = [line.split() for line in lines[:title]]
    row = {w[1].split("-")[0]: " ".join(w) for w in words if w and w[0] in ("1", "2", "3")}
    assert "no minimum" in row["saddle"] and "0/3" not in row["saddle"]
    assert "3/3" in row["himmelblau"]
    tests = [line.split() for line in lines[title + 3 : title + 6]]
    assert [t[0] for t in tests] == ["1", "2", "3"]
    assert tests[0][1:3] == ["minimum", "3"] and tests[0][-1] == "minimum"
    assert tests[1][1:4] == ["not", "stationary", "3"]  # descent runs off the saddle
    assert tests[2][1:4] == ["test", "fails", "3"] and tests[2][-2:] == ["test", "fails"]

    data = json.loads(invoke("report", str(table), "--tracking-uri", uri, "--json").output)
    groups = {g["objective"]: g for g in data["groups"]}
    assert groups["saddle"]["success"] is None
    assert groups["saddle"]["success_means"].startswith("no minimum")
    assert groups["quartic"]["second_derivative_test"]["counts"] == {"test fails": 3}
    from runner.analysis import flat_rows
    from runner.sweep import study

    flat = {r["objective"]: r for r in flat_rows(study(table.stem, tracking_uri=uri).groups)}
    assert flat["quartic"]["second_derivative_test"] == "test fails: 3"  # the CSV's columns
    assert flat["himmelblau"]["second_derivative_example"].endswith(": minimum")
    example = groups["himmelblau"]["second_derivative_test"]["example"]
    assert example["rt_s2"] == pytest.approx(example["r"] * example["t"] - example["s"] ** 2)
    # r, s, t as recorded are Himmelblau's second derivatives at the recorded end point
    client = MlflowClient(uri)
    (run,) = [
        r
        for r in client.search_runs([client.get_experiment_by_name(table.stem).experiment_id])
        if r.data.tags.get("runner.objective") == "himmelblau"
        and r.data.tags.get("runner.seed") == "0"
    ]
    tags = run.data.tags
    u, v = float(tags["runner.x1"]), float(tags["runner.x2"])
    assert float(tags["runner.hessian_r"]) == pytest.approx(12 * u * u + 4 * v - 42)
    assert float(tags["runner.hessian_s"]) == pytest.approx(4 * (u + v))
    assert float(tags["runner.hessian_t"]) == pytest.approx(4 * u + 12 * v * v - 26)
    assert (
        "runner.reached_global"
        not in next(
            r
            for r in client.search_runs([run.info.experiment_id])
            if r.data.tags.get("runner.objective") == "saddle"
        ).data.tags
    )


def test_the_objective_listing_says_maxima_and_no_minimum():
    result = CliRunner().invoke(cli, ["plugins", "--kind", "objective"], terminal_width=200)
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "4 saddles; 1 maximum)" in words  # himmelblau's local maximum
    assert "(2 variables; 1 saddle; no minimum)" in words  # x^2 - y^2


def test_a_rerun_of_a_done_sweep_says_nothing_to_run_in_words(sqlite_uri, tmp_path):
    table = tmp_path / "xor.csv"
    table.write_text("dataset,hidden,epochs,seed\nxor,2,20,0..1\n")
    args = ["sweep", str(table), "--tracking-uri", sqlite_uri, "--jobs", "1", "--no-report"]
    first = invoke(*args)
    again = invoke(*args)
    assert "2 to run in 1 population\n" in first.output.replace(" \n", "\n")
    assert "2 configurations, all already done: nothing to run" in again.output
    assert "0 to run" not in again.output and "populations" not in again.output
    address = next(line for line in first.output.splitlines() if "#/experiments/" in line)
    assert address in again.output.splitlines()  # the rerun opens the same page
