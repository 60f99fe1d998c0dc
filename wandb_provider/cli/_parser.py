"""The command line's grammar: ``wandb-artifacts <command> [options]`` (argparse, stdlib only)."""

from __future__ import annotations

import argparse

from ._exit import EXIT_CODES_HELP

PROG = "wandb-artifacts"

DESCRIPTION = """\
Weights & Biases Artifacts from a shell, with the same client as the Airflow operators: verified,
parallel, cached downloads; versions; logging; aliases behind a gate and a guard; links; lineage."""

ENVIRONMENT_HELP = """\
environment (W&B's own conventions):
  WANDB_API_KEY   the API key (else the ~/.netrc entry 'wandb login' writes); never on the
                  command line, and never printed
  WANDB_BASE_URL  the W&B API root (default https://api.wandb.ai)
  WANDB_ENTITY    the entity for paths that name none (default: the key's own entity)
  WANDB_PROJECT   the project for paths that name none
  WANDB_PROVIDER_CACHE_DIR  the download cache (default ~/.cache/airflow-provider-wandb)

paths: [entity/][project/]name[:alias|:vN] (default alias 'latest'); registries are
[org/]wandb-registry-NAME/collection."""


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive, finite number of seconds")
    return value


def _common() -> argparse.ArgumentParser:
    """Options every command takes: how to reach W&B and how much to say."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument("--max-retries", type=_non_negative_int, metavar="N",
                       help="retries of a transient failure (5xx, 429, timeouts); default 8, 0 for none")
    group.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="read timeout of one request (default 60)")
    group.add_argument("--deadline", type=_seconds, metavar="SECONDS",
                       help="total time one request may take, retries included (default 300)")
    group.add_argument("--allow-file-references", action="append", default=[], metavar="DIR",
                       help="a folder file:// reference entries may be read from (repeatable; default none)")
    group.add_argument("--allow-reference-host", action="append", default=[], metavar="HOST",
                       help="a private or loopback host, address or CIDR network http(s) reference entries "
                            "may reach (repeatable; default none)")
    group.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary; errors only")
    group.add_argument("-v", "--verbose", action="store_true", help="log each step and retry")
    return common


def _patterns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--include", action="append", metavar="GLOB",
                        help="only entries matching this glob, exact path or folder (repeatable)")
    parser.add_argument("--exclude", action="append", metavar="GLOB",
                        help="skip entries matching this glob, exact path or folder (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=f"{ENVIRONMENT_HELP}\n\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = [_common()]
    epilog = EXIT_CODES_HELP

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=description, parents=common, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    get = command("get", "download a version into a folder",
                  "Download a version (or the entries --include/--exclude select) into --root. Every byte is "
                  "checked against the manifest while it streams; files are published together, so a failed "
                  "download leaves the folder as it was. Prints the folder on stdout.")
    get.add_argument("artifact", metavar="ARTIFACT", help="e.g. acme/churn/churn-model:production")
    get.add_argument("--root", metavar="DIR",
                     help="the folder to download into (default ./artifacts/NAME:vN, as the W&B SDK)")
    _patterns(get)
    get.add_argument("--mode", choices=("merge", "checkout"), default="merge",
                     help="merge (default): add the version's files, keep everything else; checkout: also remove "
                          "files an earlier download placed that this selection lacks")
    get.add_argument("--no-verify", dest="verify", action="store_false",
                     help="trust files already in the folder when their size is right (downloaded bytes are "
                          "always checked)")
    get.add_argument("--remove-foreign", action="store_true",
                     help="let a checkout remove or replace files the provider did not place")
    get.add_argument("--type", metavar="TYPE", help="fail unless the version has this artifact type")
    get.add_argument("--no-cache", dest="cache", action="store_false", help="bypass the download cache")
    get.add_argument("--cache-dir", metavar="DIR", help="the download cache folder")
    get.add_argument("--workers", type=_positive_int, metavar="N", help="parallel file transfers")

    verify = command("verify", "check a folder against a version",
                     "Compare a folder with a version: missing, changed and unexpected files. Exit 5 when a "
                     "file of the version is missing or changed (with --strict also when there are others).")
    verify.add_argument("artifact", metavar="ARTIFACT")
    verify.add_argument("root", metavar="DIR")
    _patterns(verify)
    verify.add_argument("--strict", action="store_true", help="files the version does not have also fail")

    versions = command("versions", "list the versions of a collection",
                       "List a collection's versions, newest first: index, aliases, digest, created, size.")
    versions.add_argument("collection", metavar="COLLECTION", help="[entity/][project/]name, no alias")
    versions.add_argument("--limit", type=_positive_int, metavar="N", help="at most N versions")
    versions.add_argument("--columns", metavar="KEYS", default="",
                          help="metadata keys to show as columns, comma-separated (dotted keys reach nested "
                               "metadata), e.g. eval.accuracy,promotion.by.dag_id")

    log = command("log", "log files and folders as a new version",
                  "Log files, folders (their files keep relative names) and references as a new version. "
                  "The same content as an existing version gives that version back: re-running is safe. "
                  "Prints the version on stdout.")
    log.add_argument("name", metavar="NAME", help="the collection to log into: [entity/][project/]name")
    log.add_argument("paths", metavar="PATH", nargs="*", help="files, folders or globs")
    log.add_argument("--type", required=True, metavar="TYPE", help="the artifact type, e.g. dataset or model")
    log.add_argument("--project", metavar="PROJECT", help="default: WANDB_PROJECT")
    log.add_argument("--entity", metavar="ENTITY", help="default: WANDB_ENTITY, else the key's entity")
    log.add_argument("--alias", dest="aliases", action="append", default=[], metavar="ALIAS",
                     help="an alias for the new version (repeatable; 'latest' is always added)")
    log.add_argument("--metadata", metavar="JSON", help="metadata as a JSON object, or @FILE to read it from a file")
    log.add_argument("--description", metavar="TEXT")
    log.add_argument("--tag", dest="tags", action="append", default=[], metavar="TAG", help="repeatable")
    log.add_argument("--reference", dest="references", action="append", default=[], metavar="URI",
                     help="an http(s):// or file:// reference entry (repeatable)")
    log.add_argument("--workers", type=_positive_int, metavar="N", help="parallel uploads")
    log.add_argument("--digest-algorithm", choices=("MD5", "XXH128"), default="MD5", type=str.upper,
                     help="entries' digests, as the SDK's digest_algorithm (default MD5; MD5 where W&B "
                          "does not allow XXH128)")

    alias = command("alias", "add or remove aliases, behind a gate and a guard",
                    "Add and remove aliases on one version. --require is a gate on the version's metadata and "
                    "--only-if-current a guard on where aliases sit now; both are decided on one read just "
                    "before the write, and the write is read back (W&B has no compare-and-set). Exit 6 when "
                    "either does not hold; nothing is changed then.")
    alias.add_argument("artifact", metavar="ARTIFACT")
    alias.add_argument("--add", action="append", default=[], metavar="ALIAS", help="repeatable")
    alias.add_argument("--remove", action="append", default=[], metavar="ALIAS", help="repeatable")
    alias.add_argument("--only-if-current", action="append", default=[], metavar="ALIAS=vN",
                       help="proceed only if ALIAS sits on vN now (ALIAS=none: on no version) or already on this "
                            "version (repeatable)")
    alias.add_argument("--require", action="append", default=[], metavar="CONDITION",
                       help="a metadata condition: KEY>=VALUE (operators > >= < <= == !=; dotted keys reach "
                            "nested metadata) or a JSON gate like '{\"eval.acc\": {\">=\": 0.9}}' (repeatable; "
                            "all must hold)")

    link = command("link", "link a version into a collection or registry",
                   "Link a version into another collection, created on first link: project/collection, "
                   "entity/project/collection or [org/]wandb-registry-NAME/collection. Prints the linked version.")
    link.add_argument("artifact", metavar="ARTIFACT")
    link.add_argument("target", metavar="TARGET")
    link.add_argument("--alias", dest="aliases", action="append", default=[], metavar="ALIAS",
                      help="an alias in the target collection (repeatable)")

    lineage = command("lineage", "show the run that logged a version and the runs that used it",
                      "Show the run that logged a version and the runs that used it.")
    lineage.add_argument("artifact", metavar="ARTIFACT")
    lineage.add_argument("--depth", type=_positive_int, default=1, metavar="N",
                         help="hops upstream: with N > 1 also the versions the logging run used, the runs "
                              "that logged those, and so on (default 1)")

    diff = command("diff", "compare two versions' files and metadata",
                   "Compare two versions: files added, removed and changed (by digest), and metadata keys "
                   "added, removed and changed. Exit 0 whether or not they differ.")
    diff.add_argument("a", metavar="A", help="e.g. acme/churn/churn-model:previous-production")
    diff.add_argument("b", metavar="B", help="e.g. acme/churn/churn-model:production")

    rollback = command("rollback", "move an alias back to the version it replaced",
                       "Move ALIAS (default production) back to the version holding previous-ALIAS, which "
                       "the last promotion kept; guarded like a promotion, recorded under metadata "
                       "'promotion' of the restored version. The version rolled back from takes "
                       "previous-ALIAS. Exit 6 when --only-if-current does not hold or a writer raced.")
    rollback.add_argument("collection", metavar="COLLECTION", help="[entity/][project/]name, no alias")
    rollback.add_argument("--alias", default="production", metavar="ALIAS")
    rollback.add_argument("--previous-alias", metavar="ALIAS", help="default: previous-ALIAS")
    rollback.add_argument("--only-if-current", metavar="vN", help="roll back only if ALIAS is on vN now")
    return parser


def _version() -> str:
    from .. import __version__

    return __version__
