"""Values as users write them: what an operator or sensor argument means once Jinja has rendered it.

Without ``render_template_as_native_obj`` every template renders to text: ``"{{ params.aliases }}"``
becomes ``"['qa', 'eu']"``, a number becomes ``"0.895"`` and a missing XCom becomes ``"None"``.
These helpers read such text back the way the user meant it, and refuse what cannot be meant:

* a list argument takes a list, a rendered list literal (JSON or Python) or one plain string;
  every item must be a non-empty string;
* ``None``, ``""``, whitespace and the text ``"None"`` are *empty*: an optional value is then
  unset, a required one is an error;
* a metadata value whose template rendered a JSON or Python literal (number, true/false/null,
  list, dict) is stored as that value; text the user wrote stays text (``typed_from_template``).

Pure and framework-free: the sensor's trigger uses it too.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from typing import Any

from .client.errors import InvalidValueError as InvalidValueError  # the one error for a bad value, named here too

JINJA_MARKERS = ("{{", "{%", "{#")
EMPTY_TEXTS = frozenset({"", "None"})
ISO_EXAMPLE = "2026-01-01T00:00:00+00:00"
_NOT_JSON = object()  # what NaN and Infinity parse to: refused as metadata values


def is_template(value: Any) -> bool:
    """Whether ``value`` is a string Jinja will render (it holds ``{{``, ``{%`` or ``{#``)."""
    return isinstance(value, str) and any(marker in value for marker in JINJA_MARKERS)


def is_plain(value: Any) -> bool:
    """Whether ``value`` is final as written: plain data without a Jinja template or an XCom reference."""
    if value is None or isinstance(value, (bool, int, float, dt.date)):
        return True
    if isinstance(value, str):
        return not is_template(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(is_plain(key) and is_plain(item) for key, item in value.items())
    return False


def is_empty(value: Any) -> bool:
    """``None``, an empty or blank string, or the text ``"None"`` (what Jinja renders for None)."""
    return value is None or (isinstance(value, str) and value.strip() in EMPTY_TEXTS)


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def required_text(name: str, value: Any) -> str:
    """A required string argument, stripped; empty (see ``is_empty``) or not a string is an error."""
    if is_empty(value):
        raise InvalidValueError(
            f"{name} is empty (it is {_shown(value)}).",
            hint=f"Give {name} a value; if it comes from a template, check what the template renders.",
        )
    if not isinstance(value, str):
        raise InvalidValueError(f"{name} must be a string, not {type(value).__name__} {_shown(value)}.")
    return value.strip()


def optional_text(name: str, value: Any) -> str | None:
    """An optional string argument: empty means unset (None)."""
    if is_empty(value):
        return None
    return required_text(name, value)


def _literal(text: str) -> Any:
    """A JSON or Python literal in ``text`` (NaN and Infinity refused), or raise ValueError."""
    def no_constants(constant: str) -> Any:
        raise ValueError(f"{constant} is not a finite number")

    try:
        return json.loads(text, parse_constant=no_constants)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def text_list(name: str, value: Any) -> list[str]:
    """A list of non-empty strings from a list, a rendered list literal or one plain string.

    ``None`` and empty text give ``[]``; duplicates are dropped, order kept.
    """
    if is_empty(value):
        return []
    items: Any = value
    if isinstance(value, str):
        text = value.strip()
        if text[0] in "[(":
            try:
                items = _literal(text)
            except ValueError:
                raise InvalidValueError(
                    f"{name} {_shown(value)} looks like a list but is not a valid list literal.",
                    hint="Write a list like ['qa', 'eu'] (JSON or Python), or one plain name.",
                ) from None
            if not isinstance(items, (list, tuple)):
                raise InvalidValueError(f"{name} {_shown(value)} is not a list.")
        else:
            items = [text]
    elif isinstance(value, (set, frozenset)):
        items = sorted(value, key=str)
    elif not isinstance(value, (list, tuple)):
        raise InvalidValueError(
            f"{name} must be a list of strings or one string, not {type(value).__name__} {_shown(value)}."
        )
    result: list[str] = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise InvalidValueError(
                f"{name}: item {position} is {type(item).__name__} {_shown(item)}, not a string.",
                hint="Every item must be a string; quote numbers such as '2024'.",
            )
        if is_empty(item):
            raise InvalidValueError(f"{name}: item {position} is empty ({_shown(item)}).")
        if item.strip() not in result:
            result.append(item.strip())
    return result


def alias_list(name: str, value: Any) -> list[str]:
    """Aliases to set or remove, read as written or rendered (``text_list``), checked by W&B's alias
    rules (``client.rules.check_alias_names``: no ``vN``, never ``latest``)."""
    from .client.rules import check_alias_names

    aliases = text_list(name, value)
    check_alias_names(aliases, name)
    return aliases


NO_DURATION_TEXTS = frozenset({"", "None", "none", "null"})


def duration(name: str, value: Any) -> dt.timedelta | None:
    """A length of time: seconds (a number, or text that reads as one), a timedelta, or an ISO 8601
    duration such as ``"P30D"``; None or empty text (``"None"``, ``"none"``, ``"null"``) for none.
    Negative, non-finite and unreadable values are refused."""
    from .client.rules import as_number

    if value is None or (isinstance(value, str) and value.strip() in NO_DURATION_TEXTS):
        return None
    problem = "it is not a duration (seconds, a timedelta or ISO 8601 such as 'P30D')"
    limit: dt.timedelta | None = None
    if isinstance(value, dt.timedelta):
        limit = value
    elif not isinstance(value, bool) and (seconds := as_number(value)) is not None:
        if seconds.is_finite() and abs(seconds) < 10**12:
            limit = dt.timedelta(seconds=float(seconds))
        else:
            problem = "it is not a finite number of seconds"
    elif isinstance(value, str):
        import pendulum

        try:
            parsed = pendulum.parse(value.strip())
        except Exception:  # pendulum raises its own ParserError (and ValueError) for any bad text
            parsed = None
        limit = parsed if isinstance(parsed, dt.timedelta) else None
    if limit is None:
        raise InvalidValueError(f"{name}={value!r}: {problem}.", hint="E.g. 'P30D', 86400 or None.")
    if limit < dt.timedelta(0):
        raise InvalidValueError(f"{name}={value!r} is negative; give a length of time, e.g. 'P30D'.")
    return limit


def sources(name: str, value: Any) -> str | list[str] | dict[str, str] | None:
    """Files or references (``LogArtifactOperator``) in one of their shapes: a path, glob or URL, a
    list of them, a mapping ``{name in the artifact: path}``, or a rendered list or dict literal of
    those; empty means none. Whether the files exist is checked by the client, after rendering."""
    if is_empty(value) or value in ((), [], {}):
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, Mapping):
        value = {key: os.fspath(item) if isinstance(item, os.PathLike) else item for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        value = [os.fspath(item) if isinstance(item, os.PathLike) else item for item in value]
    if isinstance(value, str):
        text = value.strip()
        if text[0] + text[-1] == "{}":
            return sources(name, mapping(name, text))
        if text[0] + text[-1] in ("[]", "()"):
            return sources(name, text_list(name, text))
        return text
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not isinstance(item, str) or not item.strip():
                raise InvalidValueError(f"{name}: {key!r}: {item!r} is not 'name in the artifact': 'local path'.")
        return dict(value)
    if isinstance(value, (list, tuple)):
        for position, item in enumerate(value, start=1):
            if not isinstance(item, str) or not item.strip():
                raise InvalidValueError(f"{name}: item {position} ({item!r}) is not a path or URL.")
        return list(value)
    raise InvalidValueError(f"{name} must be a path, a glob, a list of them or a mapping, not {type(value).__name__}.")


def items(name: str, value: Any) -> list[Any]:
    """One value or a list of them, as written or rendered: a rendered list literal is read as the
    list, and an item that is a rendered dict literal as the dict; empty means none (``[]``)."""
    if is_empty(value) or value in ((), [], {}):
        return []
    if isinstance(value, str) and value.strip().startswith(("[", "(")):
        value = literal_from_text(value.strip())
    found = list(value) if isinstance(value, (list, tuple)) else [value]
    return [mapping(name, item) if isinstance(item, str) and item.strip().startswith("{") else item
            for item in found]


def created_after_text(value: Any) -> str | None:
    """``created_after`` as an ISO 8601 time with a zone, or None when it is empty (``None``,
    ``"None"``, ``""``, whitespace: what ``{{ data_interval_start }}`` renders for a manual run).
    A time without a zone is read as UTC; anything that is not a date and time is an error."""
    if is_empty(value):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        import pendulum

        parsed: object
        try:  # exact: a time of day alone would mean "today" and move on every poke
            parsed = pendulum.parse(value.strip(), exact=True)
        except Exception:  # pendulum raises ParserError, ValueError or TypeError for text it cannot read
            parsed = None
        if isinstance(parsed, dt.date) and not isinstance(parsed, dt.datetime):
            parsed = dt.datetime(parsed.year, parsed.month, parsed.day)
        if not isinstance(parsed, dt.datetime):
            raise InvalidValueError(
                f"created_after {value!r} is not a date and time.",
                hint=f"Use ISO 8601, e.g. {ISO_EXAMPLE!r} or '{{{{ data_interval_start }}}}'; "
                     "None or an empty value means no condition.",
            )
        moment = parsed
    else:
        raise InvalidValueError(
            f"created_after must be a datetime or an ISO 8601 string, not {type(value).__name__} {value!r}.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.isoformat()


def optional_update(name: str, source: Any, value: Any) -> str | None:
    """A text to set (a description): ``None`` leaves it alone, and so does a template (``source``)
    that rendered empty; text written in the DAG file is kept as written."""
    if value is None or (is_template(source) and is_empty(value)):
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"{name} must be a string, not {type(value).__name__}.")
    return value


def ttl(name: str, value: Any) -> int | str | None:
    """A time-to-live: seconds (> 0) from a number, a timedelta or ISO 8601 text (``"P30D"``);
    ``None`` written in the DAG file for no TTL; ``"inherit"`` for the team's default. A template
    that renders empty is refused: it does not remove a TTL. W&B's limits: ``client.rules.check_ttl``."""
    from .client.models import TTL_INHERIT
    from .client.rules import check_ttl

    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == TTL_INHERIT:
        return TTL_INHERIT
    if is_empty(value):
        raise InvalidValueError(
            f"{name} is empty (it is {value!r}); a template that renders nothing does not remove a TTL.",
            hint=f"Give a duration (seconds, 'P30D'), None in the DAG file for no TTL, or {TTL_INHERIT!r}.")
    limit = duration(name, value)
    if limit is None or limit.total_seconds() < 1:
        raise InvalidValueError(f"{name}={value!r} is not a positive duration of at least one second.",
                                hint="E.g. 'P30D' or 86400; None in the DAG file removes the TTL.")
    return check_ttl(int(limit.total_seconds()))


def approver(name: str, value: Any) -> dict[str, Any] | None:
    """Who approved: the ``responded_by_user`` of Airflow's approval (``{"id": ..., "name": ...}``),
    its XCom, a rendered dict literal of either, or a name. Empty: nobody."""
    if is_empty(value):
        return None
    if isinstance(value, str) and not value.strip().startswith("{"):
        return {"id": None, "name": value.strip()}
    given = mapping(name, value) or {}
    if isinstance(given.get("responded_by_user"), Mapping):
        given = dict(given["responded_by_user"])
    if not given.get("id") and not given.get("name"):
        raise InvalidValueError(f"{name} {value!r} names no user (no 'id' or 'name').")
    return {"id": given.get("id"), "name": given.get("name")}


def expected_holder(name: str, value: Any) -> str | None:
    """What a promotion expects to find on its alias (``expect_holder``): ``"vN"``, or ``"none"``
    for "held by no version"; empty means no check."""
    from .client.rules import NO_HOLDER, is_version

    if is_empty(value):
        return None
    text = str(value).strip()
    if text.lower() == NO_HOLDER:
        return NO_HOLDER
    if is_version(text):
        return text
    raise InvalidValueError(f"{name} must be a version such as 'v3' (or {NO_HOLDER!r}), not {value!r}.")


def mapping(name: str, value: Any) -> dict[str, Any] | None:
    """A dict argument, or a rendered dict literal (JSON or Python); empty means unset (None)."""
    if is_empty(value):
        return None
    parsed = value
    if isinstance(value, str):
        try:
            parsed = _literal(value.strip())
        except ValueError:
            parsed = None
    if not isinstance(parsed, Mapping):
        raise InvalidValueError(
            f"{name} must be a dict, not {type(value).__name__} {_shown(value)}.",
            hint="Pass a dict, or a template that renders one (JSON or Python literal).",
        )
    return dict(parsed)


def non_finite(value: Any, where: str) -> str | None:
    """Where in ``value`` a NaN or an infinity sits (e.g. ``metadata['eval']['acc']``), or None: JSON,
    W&B and Airflow's rendered-fields store cannot hold them."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, Mapping):
        return next((found for key, item in value.items() if (found := non_finite(item, f"{where}[{key!r}]"))), None)
    if isinstance(value, (list, tuple)):
        return next((found for i, item in enumerate(value) if (found := non_finite(item, f"{where}[{i}]"))), None)
    return None


def refuse_non_finite(name: str, value: Any) -> None:
    """``InvalidValueError`` when ``value`` holds NaN or an infinity (at parse time, or right after rendering)."""
    found = non_finite(value, name)
    if found is not None:
        raise InvalidValueError(
            f"{found} is NaN or an infinity, which JSON, W&B and Airflow's rendered fields cannot store.",
            hint="Replace it with None or a string (e.g. 'nan'), or drop the key.")


def gate(name: str, value: Any) -> dict[str, Any] | None:
    """A gate (``require``) as the client takes it: a dict, or a rendered dict literal, whose
    conditions (``{">=": 0.9}``) may be rendered literals too, and whose ``in`` lists may be rendered
    list literals (``"['torch', 'jax']"``). Empty means no gate (None); a key's conditions that
    render empty are refused (a gate fails closed). The client checks the rest (``validate_gate``)."""
    require = mapping(name, value)
    if require is None:
        return None
    result: dict[str, Any] = {}
    for key, conditions in require.items():
        where = f"{name}[{key!r}]"
        if isinstance(conditions, str):
            if is_empty(conditions):
                raise InvalidValueError(f"{where} rendered empty ({_shown(conditions)}); a gate must say what "
                                        "it requires.", hint="Pass None (not a template that renders empty) "
                                                             "for no gate.")
            conditions = mapping(where, conditions)
        if isinstance(conditions, Mapping):
            conditions = {op: _in_list(f"{where}[{op!r}]", expected) if op == "in" else expected
                          for op, expected in conditions.items()}
        result[key] = conditions
    return result


def _in_list(name: str, value: Any) -> Any:
    """The allowed values of an ``in`` term: a rendered list literal read as the list (its items as
    written: ``"['1', '2']"`` is two texts); anything else is left for the client to judge."""
    if not isinstance(value, str) or not value.strip().startswith(("[", "(")):
        return value
    try:
        items = _literal(value.strip())
    except ValueError:
        raise InvalidValueError(f"{name} {_shown(value)} looks like a list but is not a valid list literal.",
                                hint="Write a list like ['torch', 'jax'] (JSON or Python).") from None
    return list(items) if isinstance(items, (list, tuple)) else items


def metadata_mapping(name: str, value: Any) -> dict[str, Any] | None:
    """A metadata dict (or a rendered dict literal): empty means unset; NaN and infinities refused."""
    meta = mapping(name, value)
    refuse_non_finite(name, meta)
    return meta


def collection_target(name: str, value: Any) -> str:
    """A link target, read as written or rendered, that names its project or registry
    (``client.rules.check_link_target``)."""
    from .client.rules import check_link_target

    return check_link_target(required_text(name, value), name)


def rendered_empty(name: str, source: Any, rendered: Any) -> list[str]:
    """Where a template (or an XCom reference) in ``source`` rendered empty in ``rendered``: e.g.
    ``["require"]`` or ``["only_if_current['production']"]``. Gates and guards fail closed on
    these (README, "Safety"): ``None`` written in the DAG file is a choice, a template rendering
    ``None`` is most often a typo'd task id."""
    if not is_plain(source) and is_empty(rendered):
        return [name]
    if isinstance(source, Mapping) and isinstance(rendered, Mapping):
        return [where for key, item in rendered.items()
                for where in rendered_empty(f"{name}[{key!r}]", source.get(key), item)]
    return []


def prune_empty(name: str, value: Any, places: list[str], *, keep_as_none: bool = False) -> Any:
    """``value`` without what ``rendered_empty`` found at ``places`` (the caller opted in with
    ``allow_empty``): a gate or term that rendered empty is dropped (``keep_as_none``: kept as None,
    as a guard's "held by no version"); a dict left empty is None."""
    if name in places:
        return None
    if not isinstance(value, Mapping):
        return value
    result: dict[Any, Any] = {}
    for key, item in value.items():
        where = f"{name}[{key!r}]"
        if where in places:
            if keep_as_none:
                result[key] = None
            continue
        pruned = prune_empty(where, item, places, keep_as_none=keep_as_none)
        if isinstance(item, Mapping) and pruned is None:
            continue
        result[key] = pruned
    return result or None


def refuse_rendered_empty(name: str, source: Any, rendered: Any) -> None:
    """``InvalidValueError`` when a template in ``source`` rendered empty (see ``rendered_empty``)."""
    places = rendered_empty(name, source, rendered)
    if places:
        raise InvalidValueError(
            f"{', '.join(places)} rendered empty ({_shown(rendered)}): a gate or guard whose template renders "
            "None fails closed (did an xcom_pull name a task id that does not exist?).",
            hint="Fix the template; write None in the DAG file for no gate or guard, or pass allow_empty=True "
                 "to drop what renders empty.",
        )


def _json_safe(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_safe(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_safe(item) for key, item in value.items())
    return False


def literal_from_text(text: str) -> Any:
    """The value a rendered text spells: a JSON number, true/false/null, list or dict, or Python's
    True/False/None or a list/dict literal; anything else (``"v3"``, ``"007"``, ``"NaN"``) stays text."""
    stripped = text.strip()
    if not stripped:
        return text
    if stripped in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[stripped]
    try:
        value = json.loads(stripped, parse_constant=lambda constant: _NOT_JSON)
    except ValueError:
        value = _NOT_JSON
    if not isinstance(value, str) and _json_safe(value):
        return value
    if stripped[0] in "[{(":
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, (list, dict)) and _json_safe(value):
            return value
    return text


def typed_from_template(template: Any, rendered: Any) -> Any:
    """Walk ``rendered`` beside the unrendered ``template``: every string whose source was a Jinja
    template is read with ``literal_from_text``; strings the user wrote stay as written."""
    if isinstance(rendered, str):
        return literal_from_text(rendered) if is_template(template) else rendered
    if isinstance(rendered, dict):
        source = template if isinstance(template, Mapping) else {}
        return {key: typed_from_template(source.get(key), item) for key, item in rendered.items()}
    if isinstance(rendered, (list, tuple)):
        sources = list(template) if isinstance(template, (list, tuple)) and len(template) == len(rendered) else []
        return [typed_from_template(sources[i] if sources else None, item) for i, item in enumerate(rendered)]
    return rendered
