"""Case commands: ``case build``, ``case verify``, ``case decide``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reviewguard.cli.common import (
    WITHOUT_LABELS,
    MemoryLimit,
    Quarantine,
    _open,
    app,
    console,
    friendly_errors,
    load_model,
    out,
    usage_rule,
)
from reviewguard.errors import ReviewguardError
from reviewguard.reader import DEFAULT_MEMORY_LIMIT

# ------------------------------------------------------------------ cases

case_app = typer.Typer(
    help="Moderation case files: build one per decision, verify it reproduces.", no_args_is_help=True
)
app.add_typer(case_app, name="case")


@case_app.command("build")
@friendly_errors
def case_build(
    scores: Annotated[Path, typer.Option(help="Scores file written by `reviewguard score`.")],
    data: Annotated[Path, typer.Option(help="The dataset folder that was scored.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for <account>/case.json and case.html.")],
    account: Annotated[list[str] | None, typer.Option(help="Account id (repeat for several).")] = None,
    top_flagged: Annotated[
        int, typer.Option(help="Also build cases for the N (0 or more) highest-scored flagged accounts per risk.")
    ] = 0,
    quarantine: Quarantine = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Write case.json (reproducible record) and case.html (moderator page) for accounts.

    Each goes to ``OUT/<slug>-<hash>/``, a name derived from the account id (the id is in case.json).
    """
    from reviewguard.serving.case import build_case, check_against_scores, check_top_flagged, select_cases, write_case

    with usage_rule():  # before the scores, the data or a model is read
        check_top_flagged(top_flagged, name="--top-flagged")
    frame = _read_scores(scores)
    accounts = select_cases(frame, list(account or []), top_flagged)
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, tables=WITHOUT_LABELS)
    loaded: dict[str, Any] = {}
    for acc in accounts:
        rows = frame[frame["account_id"] == acc]
        uri = str(rows["model_uri"].iloc[0])
        if uri not in loaded:
            loaded[uri] = load_model(uri)
        predictor = loaded[uri]
        as_of = rows["as_of"].iloc[0].tz_convert("UTC").tz_localize(None).to_pydatetime()
        case = build_case(ds, predictor, acc, as_of, model_uri=uri, model_version=predictor.model_version)
        check_against_scores(case, rows)
        folder = write_case(case, out_dir)
        acts = ", ".join(f"{k}: {v['action']} ({v['score']:.3f})" for k, v in case["decisions"].items())
        out.print(f"{acc}: {acts} -> {folder}/case.html", highlight=False)


SCORE_COLUMNS = ["account_id", "risk", "score", "action", "model_uri", "model_version", "as_of"]


def _read_scores(path: Path) -> Any:
    """The columns of a scores file that cases need, or one line naming the file and the cause."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from reviewguard.reader import engine_reason

    if not path.exists():
        raise ReviewguardError(f"scores {path}: no such file")
    try:
        schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
        missing = [c for c in SCORE_COLUMNS if c not in schema.names]
        if missing:
            raise ReviewguardError(f"scores {path}: missing column(s) {missing}; is it a `reviewguard score` output?")
        # The margin orders --top-flagged within a step of the calibrated score (when the file has it).
        extra = ["raw_score"] if "raw_score" in schema.names else []
        frame = pq.read_table(path, columns=SCORE_COLUMNS + extra).to_pandas()
    except ReviewguardError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReviewguardError(f"scores {path}: cannot read: {engine_reason(exc)}") from exc
    if frame["as_of"].dt.tz is None:
        frame["as_of"] = frame["as_of"].dt.tz_localize("UTC")
    return frame


@case_app.command("verify")
@friendly_errors
def case_verify(
    case_file: Annotated[Path, typer.Argument(help="A case.json written by `case build`.")],
    data: Annotated[Path | None, typer.Option(help="Dataset folder (default: the one the case records).")] = None,
    quarantine: Quarantine = None,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Reload the model from the registry, recompute the features at the recorded as-of, compare exactly."""
    from reviewguard.serving.case import verify_case
    from reviewguard.serving.case_record import read_case

    case = read_case(case_file)
    predictor = load_model(case["model"]["uri"])
    ds = _open(
        data or Path(case["data"]["root"]), quarantine=quarantine, memory_limit=memory_limit, tables=WITHOUT_LABELS
    )
    result = verify_case(case, ds, predictor)
    for risk, r in result["risks"].items():
        out.print(
            f"{risk}: recorded {r['recorded_score']!r} ({r['recorded_action']}), recomputed "
            f"{r['recomputed_score']!r} ({r['recomputed_action']}): {'exact' if r['exact'] else 'DIFFERENT'}",
            highlight=False,
        )
    if not result["reproduced"]:
        for p in result["problems"]:
            console.print(f"[red]{p}[/]", highlight=False)
        out.print("NOT REPRODUCED")
        raise typer.Exit(1)
    out.print("REPRODUCED: every score and action matches exactly")


@case_app.command("decide")
@friendly_errors
def case_decide(
    case_file: Annotated[Path, typer.Argument(help="A case.json written by `case build`.")],
    decision: Annotated[str, typer.Option(help="upheld, overturned or dismissed.")],
    by: Annotated[str, typer.Option(help="The moderator's id.")],
    labels: Annotated[Path, typer.Option(help="Dataset folder whose labels and enforcement tables get the rows.")],
    note: Annotated[str, typer.Option(help="Why, in the moderator's words.")] = "",
    risk: Annotated[str | None, typer.Option(help="The risk decided (needed when several have an action).")] = None,
) -> None:
    """Record a moderator's decision: a labels row (the next `train` learns from it) and an enforcement row."""
    from reviewguard.serving.case_record import read_case
    from reviewguard.serving.decide import append_decision, check_decision, decide_case

    with usage_rule():  # before the case or the dataset is read
        check_decision(decision, by)
    case = read_case(case_file)
    rows = decide_case(case, decision=decision, by=by, note=note, risk=risk)
    written = append_decision(labels, case, rows)
    what = f"label {rows.label['label']} ({rows.label['source']})"
    if rows.enforcement is not None:
        what += f", enforcement {rows.enforcement['action']} ({rows.enforcement['outcome']})"
    out.print(f"{case['account_id']} {rows.label['risk']}: {what} -> {', '.join(map(str, written))}", highlight=False)
