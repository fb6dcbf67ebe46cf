"""Turn the column checks' tallies into findings (violations, warnings) and column figures."""

from __future__ import annotations

from mlgate.data.checks import ColumnCheck, Tally
from mlgate.data.drift import categorical_drift, numeric_drift, rounded
from mlgate.data.result import ColumnReport, Example, Finding, Thresholds
from mlgate.data.schema import ColumnSchema, Schema


def _finding(check: str, column: str, tally: Tally, message: str) -> Finding:
    return Finding(
        check=check,
        column=column,
        level="violation",
        rows=tally.rows,
        message=message,
        examples=tuple(Example(row=r, value=v) for r, v in tally.examples),
    )


def _values(n: int, noun: str = "value") -> str:
    """``1 value``, ``3 values``."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _allowed(spec: ColumnSchema, most: int = 10) -> str:
    """The allowed values as the schema lists them (the first ``most``)."""
    values = list(spec.allowed or ())
    shown = ", ".join(str(v) for v in values[:most])
    return f"[{shown}{f', ... ({len(values)} in all)' if len(values) > most else ''}]"


def _bounds(spec: ColumnSchema) -> str:
    lo = "-inf" if spec.min is None else f"{spec.min:g}"
    hi = "inf" if spec.max is None else f"{spec.max:g}"
    return f"[{lo}, {hi}]"


def _column_findings(check: ColumnCheck, rows: int) -> list[Finding]:
    spec, name, out = check.spec, check.spec.name, []
    if not check.type_ok and not check.dtype.rows:  # e.g. " 1.5": not read as a number
        out.append(
            _finding(
                "dtype",
                name,
                check.dtype,
                f"the column could not be read as {spec.dtype} (read as {check.actual})",
            )
        )
    if check.dtype.rows:
        out.append(
            _finding(
                "dtype",
                name,
                check.dtype,
                f"{_values(check.dtype.rows)} not {spec.dtype} (column read as {check.actual})",
            )
        )
    nulls = check.nulls.rows
    if nulls and not spec.nullable:
        out.append(
            _finding(
                "nulls",
                name,
                check.nulls,
                f"{_values(nulls, 'missing value')}; the schema says nullable: false",
            )
        )
    elif nulls and spec.max_null_fraction is not None and nulls > spec.max_null_fraction * rows:
        out.append(
            _finding(
                "null_fraction",
                name,
                check.nulls,
                f"{nulls / rows:.2%} missing, above max_null_fraction {spec.max_null_fraction:g}",
            )
        )
    if check.range.rows:
        out.append(
            _finding(
                "range", name, check.range, f"{_values(check.range.rows)} outside {_bounds(spec)}"
            )
        )
    if check.allowed.rows:
        out.append(
            _finding(
                "allowed",
                name,
                check.allowed,
                f"{_values(check.allowed.rows)} not in the allowed values {_allowed(spec)}",
            )
        )
    if check.duplicates.rows:
        out.append(
            _finding(
                "unique",
                name,
                check.duplicates,
                f"{_values(check.duplicates.rows, 'row')} repeat a value of an earlier row",
            )
        )
    return out


def _drift(
    check: ColumnCheck, thresholds: Thresholds
) -> tuple[float | None, float | None, list[Finding]]:
    profile = check.profile
    if profile is None or not check.type_ok:
        return None, None, []
    floor = thresholds.psi_floor
    ks: float | None = None
    if check.bins is not None:
        psi_raw, ks_raw = numeric_drift(profile, check.bins.counts, floor=floor)
        ks = rounded(ks_raw)
    else:
        psi_raw = categorical_drift(profile, check.categories, floor=floor)
    psi = rounded(psi_raw)
    findings = []
    for measure, value in (("psi", psi), ("ks", ks)):
        if value is None:
            continue
        limit = thresholds.limit(check.spec.name, measure)
        level = limit.level(value)
        if level is None:
            continue
        edge = limit.fail if level == "violation" else limit.warn
        findings.append(
            Finding(
                check=f"drift.{measure}",
                column=check.spec.name,
                level=level,
                rows=None,  # a measure of the whole column, not a count of rows
                message=f"{measure.upper()} {value:.3f} above {'fail' if level == 'violation' else 'warn'} {edge:g}",
                score=value,
            )
        )
    return psi, ks, findings


def summarise(
    *,
    schema: Schema,
    names: list[str],
    rows: int,
    checks: dict[str, ColumnCheck],
    thresholds: Thresholds,
) -> tuple[list[ColumnReport], list[Finding]]:
    """Column figures and findings, in schema order; table-level findings first."""
    findings: list[Finding] = []
    for name in schema.columns:
        if name not in checks:
            findings.append(
                Finding(
                    check="missing_column",
                    column=name,
                    level="violation",
                    rows=rows,
                    message="column is missing from the data; add it back or remove it from the schema",
                )
            )
    if schema.extra_columns != "ignore":
        for name in names:
            if name not in schema.columns:
                findings.append(
                    Finding(
                        check="unexpected_column",
                        column=name,
                        level="violation" if schema.extra_columns == "fail" else "warning",
                        rows=rows,
                        message="column is not in the schema; add it to the schema or drop it",
                    )
                )
    too_few = schema.min_rows is not None and rows < schema.min_rows
    too_many = schema.max_rows is not None and rows > schema.max_rows
    if too_few or too_many:
        findings.append(
            Finding(
                check="row_count",
                column=None,
                level="violation",
                rows=rows,
                message=f"{rows} rows, expected {schema.min_rows or 0} to {schema.max_rows if schema.max_rows is not None else 'any'}",
            )
        )
    columns = []
    for name, check in checks.items():
        findings.extend(_column_findings(check, rows))
        psi, ks, drift = _drift(check, thresholds)
        findings.extend(drift)
        nulls = check.nulls.rows
        columns.append(
            ColumnReport(
                name=name,
                dtype=check.actual or "null",
                nulls=nulls,
                null_rate=rounded(nulls / rows) if rows else 0.0,
                psi=psi,
                ks=ks,
            )
        )
    return columns, findings
