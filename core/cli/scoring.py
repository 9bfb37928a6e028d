"""The ``score`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reviewguard.cli.common import (
    WITHOUT_LABELS,
    MemoryLimit,
    OptionError,
    Quarantine,
    _open,
    _parse_time,
    app,
    console,
    friendly_errors,
    load_model,
    out,
    progress_bar,
)
from reviewguard.errors import ReviewguardError
from reviewguard.model.policy import ActionRate, action_rates
from reviewguard.reader import DEFAULT_MEMORY_LIMIT

# ------------------------------------------------------------------ score


@app.command()
@friendly_errors
def score(
    model: Annotated[str, typer.Option(help="models:/NAME/VERSION, models:/NAME@alias, or a bundle folder.")],
    data: Annotated[Path, typer.Option(help="Dataset folder (data contract v1).")],
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this moment (UTC); default: after the latest event.")
    ] = None,
    explain: Annotated[str, typer.Option(help="flagged, all or none: which rows get SHAP reasons.")] = "flagged",
    top_k: Annotated[int, typer.Option(help="Reasons shown per explained row (display only).")] = 5,
    chunk_size: Annotated[
        int | None, typer.Option(help="Accounts per chunk, to bound memory (default 100,000; --engine duckdb only).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue a run that was interrupted (--engine duckdb only).")] = False,
    memory_limit: MemoryLimit = DEFAULT_MEMORY_LIMIT,
    engine: Annotated[
        str, typer.Option(help="duckdb (one machine, one Parquet file) or pyspark (a folder of Parquet parts).")
    ] = "duckdb",
    quarantine: Quarantine = None,
    allow_over_budget: Annotated[
        bool, typer.Option(help="Exit 0 even when an action reaches more than twice its budgeted share of accounts.")
    ] = False,
) -> None:
    """Score every account with the model, with reasons for the flagged ones.

    Prints each action's share of the accounts against its budget (the policy's ``max_share``) and
    exits with status 3 when one is more than twice its budget, so a broken model or broken data
    cannot silently act on a platform (the scores file is complete either way).
    """
    from reviewguard.features import default_as_of

    # Usage errors first (exit 2), before the model or the data is read.
    if explain not in ("flagged", "all", "none"):
        raise OptionError(f"--explain must be flagged, all or none, not {explain!r}")
    if chunk_size is not None and chunk_size < 1:
        raise OptionError(f"--chunk-size must be at least 1 account, not {chunk_size}")
    if engine == "pyspark" and (resume or chunk_size is not None):
        # Spark splits, retries and commits its own parts: these would be silently ignored.
        raise OptionError("--resume and --chunk-size are for --engine duckdb; Spark writes its parts itself")
    moment = _parse_time(as_of, "--as-of")
    with console.status(f"loading model {model}"):
        predictor = load_model(model)
    ds = _open(data, quarantine=quarantine, memory_limit=memory_limit, engine=engine, tables=WITHOUT_LABELS)
    moment = moment or default_as_of(ds)
    if engine == "pyspark":
        from reviewguard.serving.spark import spark_action_counts, write_scores_spark

        with console.status("scoring on Spark"):
            write_scores_spark(ds, predictor, out_file, as_of=moment, explain=explain, top_k=top_k)
        out.print(f"scored on Spark as of {moment.isoformat()} -> {out_file}/ (Parquet parts)", highlight=False)
        accounts, by_risk = spark_action_counts(out_file)
        _budget_check(action_rates(predictor.policy, by_risk, accounts), out_file, allow_over_budget)
        return
    import pyarrow as pa

    from reviewguard.serving.batch import score_dataset

    with progress_bar() as bar:
        task = bar.add_task("scoring accounts", total=None)
        try:
            summary = score_dataset(
                ds,
                predictor,
                out_file,
                as_of=moment,
                explain=explain,
                top_k=top_k,
                **({} if chunk_size is None else {"chunk_size": chunk_size}),
                resume=resume,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except (ValueError, pa.ArrowException) as exc:
            # A manifest or part left by a killed run that was itself cut short (a full disk).
            if not resume:
                raise
            from reviewguard.reader import engine_reason

            raise ReviewguardError(
                f"--resume: the unfinished run in {out_file}.parts cannot be read ({engine_reason(exc)}); "
                "remove that folder and rerun without --resume"
            ) from exc
    out.print(f"scored {summary['accounts']:,} accounts as of {summary['as_of']} -> {out_file}", highlight=False)
    acts = ", ".join(f"{k} {v:,}" for k, v in sorted(summary["actions"].items()))
    out.print(f"actions (account x risk): {acts}", highlight=False)
    drift = summary["drift"]
    if drift["warnings"]:
        console.print(
            f"[yellow]drift:[/] PSI above {drift['threshold']} for {', '.join(drift['warnings'])} "
            f"(details in {summary['drift_file']})"
        )
    else:
        out.print(f"drift: every feature's PSI is below {drift['threshold']} ({summary['drift_file']})")
    _budget_check(summary["rates"], out_file, allow_over_budget)


def _budget_check(rates: list[ActionRate], out_file: Path, allow_over_budget: bool) -> None:
    """Each action's share against its budget; exit 3 when one is over twice it (unless allowed)."""
    over = []
    for rate in rates:
        flag = "  OVER TWICE THE BUDGET" if rate.over_budget else ""
        out.print(
            f"  {rate.risk} {rate.action} or heavier: {rate.accounts:,} accounts, {rate.share:.3%} "
            f"(budget {rate.max_share:.2%}){flag}",
            highlight=False,
        )
        if rate.over_budget:
            over.append(rate)
    if over and not allow_over_budget:
        names = ", ".join(f"{r.risk} {r.action} ({r.share:.2%} > 2 x {r.max_share:.2%})" for r in over)
        console.print(
            f"[red]error:[/] over budget: {names}; the scores are in {out_file}, but check the model and the "
            "data before acting on them (--allow-over-budget to accept)"
        )
        raise typer.Exit(3)
