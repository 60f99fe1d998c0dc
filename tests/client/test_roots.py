"""Download roots: what the provider may touch (only what it placed), clashes, links, locks, odd roots."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.client._roots_helpers import LEDGER, listing, user_view
from wandb_provider.client import (
    ArtifactIntegrityError,
    InvalidValueError,
    LocalFileError,
    RootBusyError,
    RootConflictError,
    UnsafePathError,
    WandbClient,
    WandbError,
)

FILES = {"a.txt": "alpha\n", "data/b.csv": "x,y\n1,2\n", "data/deep/c.bin": b"\x00\x01" * 700}


@pytest.fixture(autouse=True)
def scratch_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a scratch folder: on a broken client, root="" or "." would be the current folder."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")


@pytest.fixture
def client(wandb_server, tmp_path: Path) -> WandbClient:
    return WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                       cache_dir=str(tmp_path / "cache"), backoff_min=0.01, backoff_max=0.05)


def _bytes(files: dict[str, str | bytes]) -> dict[str, bytes]:
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}


def _files_only(view: dict[str, str | bytes]) -> dict[str, str | bytes]:
    return {k: v for k, v in view.items() if v != "<dir>"}


def _user_setup(root: Path) -> dict[str, str | bytes]:
    """A folder a careless user might pass as root: a git checkout, keys, notes."""
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / ".ssh").mkdir()
    (root / ".ssh" / "id_ed25519").write_text("PRIVATE KEY")
    (root / "notes.txt").write_text("my notes")
    (root / "empty-folder").mkdir()
    return listing(root)


# --- what a root may be ---------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["", "   ", "/", "//", "/.", "~"])
def test_dangerous_roots_are_refused_before_any_request(wandb_server, client: WandbClient, root: str) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    wandb_server.reset_stats()
    with pytest.raises(InvalidValueError, match="root"):
        client.download("ds", root, mode="checkout")
    assert wandb_server.stats()["graphql"]["total"] == 0


def test_home_and_its_parents_are_refused(wandb_server, client: WandbClient, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home" / "user"
    home.mkdir(parents=True)
    (home / "diary.txt").write_text("dear diary")
    monkeypatch.setenv("HOME", str(home))
    wandb_server.seed_artifact("ds", FILES, project="p")
    for root in (home, home.parent, tmp_path, Path("~"), f"{home}/../user/"):
        with pytest.raises(InvalidValueError, match="home folder"):
            client.download("ds", root, mode="checkout", remove_foreign=True)
    assert listing(home) == {"diary.txt": b"dear diary"}
    client.download("ds", home / "models")  # a folder inside home is fine
    assert _files_only(user_view(home / "models")) == _bytes(FILES)


def test_root_that_is_a_file_or_below_a_file_is_a_local_file_error(wandb_server, client: WandbClient,
                                                                    tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    (tmp_path / "file.txt").write_text("not a folder")
    with pytest.raises(LocalFileError, match="is a file, not a folder"):
        client.download("ds", tmp_path / "file.txt")
    with pytest.raises(LocalFileError, match="file.txt") as caught:
        client.download("ds", tmp_path / "file.txt" / "sub")
    assert not isinstance(caught.value, OSError)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(LocalFileError, match="broken symbolic link"):
        client.download("ds", tmp_path / "dangling")
    assert (tmp_path / "file.txt").read_text() == "not a folder"


def test_dot_is_the_current_folder_and_checkout_there_is_refused(wandb_server, client: WandbClient,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    before = _user_setup(project)
    monkeypatch.chdir(project)
    wandb_server.seed_artifact("ds", FILES, project="p")
    with pytest.raises(RootConflictError) as caught:
        client.download("ds", ".", mode="checkout")
    message = str(caught.value)
    assert str(project) in message and ".git/" in message and ".ssh/" in message and "notes.txt" in message
    assert "remove_foreign=True" in message
    assert listing(project) == before  # not even the ledger folder is left behind
    result = client.download("ds", ".")  # merge only adds
    assert result.root == str(project)
    assert user_view(project) == {**before, **_bytes(FILES), "data": "<dir>", "data/deep": "<dir>"}


def test_long_names_are_local_file_errors_not_os_errors(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    deep = tmp_path.joinpath(*(["d" * 250] * 18))  # longer than PATH_MAX
    with pytest.raises(LocalFileError, match="too long") as caught:
        client.download("ds", deep)
    assert not caught.value.transient
    wandb_server.seed_artifact("longname", {"x" * 256: "a"}, project="p")
    with pytest.raises(UnsafePathError, match="longer than 255 bytes"):
        client.download("longname", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- checkout removes only what the provider placed -------------------------------------------------


def test_checkout_into_a_users_folder_deletes_nothing(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    before = _user_setup(root)
    wandb_server.seed_artifact("ds", FILES, project="p")
    with pytest.raises(RootConflictError, match="holds no ledger") as caught:
        client.download("ds", root, mode="checkout")
    assert caught.value.path == str(root)
    assert listing(root) == before
    client.download("ds", root, mode="checkout", remove_foreign=True)  # the explicit opt-in
    assert _files_only(user_view(root)) == _bytes(FILES)


def test_checkout_removes_only_files_it_placed_and_left_unchanged(wandb_server, client: WandbClient,
                                                                 tmp_path: Path) -> None:
    root = tmp_path / "out"
    wandb_server.seed_artifact("ds", {"keep.txt": "k", "old.txt": "o", "edited.txt": "e", "sub/x.txt": "x"},
                               project="p")
    client.download("ds", root)
    (root / "mine.txt").write_text("mine")
    (root / "sub" / "mine.txt").write_text("mine too")
    (root / "edited.txt").write_text("edited by the user")
    wandb_server.seed_artifact("ds", {"keep.txt": "k", "new.txt": "n"}, project="p")  # v1
    client.download("ds:v1", root, mode="checkout")
    assert _files_only(user_view(root)) == {
        "keep.txt": b"k", "new.txt": b"n", "mine.txt": b"mine", "sub/mine.txt": b"mine too",
        "edited.txt": b"edited by the user",  # the user's since they edited it
    }
    assert client.verify("ds:v1", root).ok


def test_checkout_prunes_folders_it_made_and_keeps_the_users(wandb_server, client: WandbClient,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "user-empty").mkdir()
    wandb_server.seed_artifact("ds", {"a/b/c.txt": "c", "model": "m"}, project="p")
    client.download("ds", root)
    wandb_server.seed_artifact("ds", {"a": "now a file", "model/w.bin": "w"}, project="p")  # v1: file <-> folder
    client.download("ds:v1", root, mode="checkout")
    assert user_view(root) == {"a": b"now a file", "model": "<dir>", "model/w.bin": b"w", "user-empty": "<dir>"}


def test_two_versions_never_mix_in_one_root(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    root = tmp_path / "out"
    wandb_server.seed_artifact("ds", {"common.txt": "same", "only-v0.txt": "0", "changed.txt": "v0"}, project="p")
    wandb_server.seed_artifact("ds", {"common.txt": "same", "only-v1.txt": "1", "changed.txt": "v1"}, project="p")
    client.download("ds:v0", root)
    before = listing(root)
    with pytest.raises(RootConflictError, match=r"demo/p/ds:v0.*mode='checkout'"):
        client.download("ds:v1", root)
    assert listing(root) == before
    client.download("ds:v1", root, mode="checkout")
    assert _files_only(user_view(root)) == {"common.txt": b"same", "only-v1.txt": b"1", "changed.txt": b"v1"}
    client.download("ds:v1", root)  # the same version again: a no-op
    wandb_server.seed_artifact("other", {"other.txt": "o"}, project="p")
    client.download("other", root)  # another collection may share the root
    assert _files_only(user_view(root)) == {"common.txt": b"same", "only-v1.txt": b"1", "changed.txt": b"v1",
                                            "other.txt": b"o"}


# --- merge never removes or overwrites the user's entries ------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "file", "file-where-folder-goes", "symlink-file"])
def test_merge_clash_is_refused_and_nothing_changes(wandb_server, client: WandbClient, tmp_path: Path,
                                                    kind: str) -> None:
    root = tmp_path / "out"
    root.mkdir()
    if kind == "folder":  # a user's folder named like an artifact file
        (root / "a.txt").mkdir()
        (root / "a.txt" / "inside.txt").write_text("precious")
    elif kind == "file":
        (root / "a.txt").write_text("the user's version")
    elif kind == "file-where-folder-goes":
        (root / "data").write_text("a file named data")
    else:
        (tmp_path / "outside.txt").write_text("outside")
        (root / "a.txt").symlink_to(tmp_path / "outside.txt")
    before = listing(root)
    wandb_server.seed_artifact("ds", FILES, project="p")
    with pytest.raises(RootConflictError, match="Nothing was changed") as caught:
        client.download("ds", root)
    assert "remove_foreign=True" in str(caught.value)
    assert listing(root) == before
    if kind == "symlink-file":
        assert (tmp_path / "outside.txt").read_text() == "outside"
    client.download("ds", root, remove_foreign=True)
    assert _files_only(user_view(root)) == _bytes(FILES)
    if kind == "symlink-file":
        assert (tmp_path / "outside.txt").read_text() == "outside"  # the link was replaced, not written through


def test_merge_keeps_a_users_identical_file_without_claiming_it(wandb_server, client: WandbClient,
                                                                tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "a.txt").write_text("alpha\n")  # already the artifact's bytes
    wandb_server.seed_artifact("ds", FILES, project="p")
    result = client.download("ds", root)
    assert result.skipped_existing == 1
    wandb_server.seed_artifact("ds", {"other.txt": "o"}, project="p")
    client.download("ds:v1", root, mode="checkout")
    assert (root / "a.txt").read_text() == "alpha\n"  # the user's file: a checkout does not take it


def test_a_symlinked_folder_in_root_is_never_written_through(wandb_server, client: WandbClient,
                                                             tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "b.csv").write_text("the user's data elsewhere")
    root = tmp_path / "out"
    root.mkdir()
    (root / "data").symlink_to(outside, target_is_directory=True)
    wandb_server.seed_artifact("ds", FILES, project="p")
    for mode in ("merge", "checkout"):
        with pytest.raises(RootConflictError, match="symbolic link"):
            client.download("ds", root, mode=mode)
    assert listing(outside) == {"b.csv": b"the user's data elsewhere"}
    assert (root / "data").is_symlink()
    client.download("ds", root, mode="checkout", remove_foreign=True)
    assert listing(outside) == {"b.csv": b"the user's data elsewhere"}  # only the link itself went
    assert not (root / "data").is_symlink() and (root / "data" / "b.csv").read_text() == "x,y\n1,2\n"


def test_checkout_never_follows_a_link_to_remove(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("outside")
    root = tmp_path / "out"
    wandb_server.seed_artifact("ds", {"sub/a.txt": "a"}, project="p")
    client.download("ds", root)
    shutil.rmtree(root / "sub")
    (root / "sub").symlink_to(outside, target_is_directory=True)  # the ledger names sub/a.txt
    wandb_server.seed_artifact("ds", {"b.txt": "b"}, project="p")
    client.download("ds:v1", root, mode="checkout")
    assert listing(outside) == {"a.txt": b"outside"}
    assert (root / "sub").is_symlink()


def test_entries_in_the_ledger_folder_are_refused(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("evil", {f"{LEDGER}/ledger.json": "{}", "ok.txt": "ok"}, project="p")
    with pytest.raises(UnsafePathError, match="exclude"):
        client.download("evil", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    client.download("evil", tmp_path / "out", exclude=LEDGER)
    assert _files_only(user_view(tmp_path / "out")) == {"ok.txt": b"ok"}


def test_verify_ignores_the_ledger_folder(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    client.download("ds", tmp_path / "out")
    assert (tmp_path / "out" / LEDGER / "ledger.json").exists()
    report = client.verify("ds", tmp_path / "out")
    assert report.ok and report.unexpected == ()


# --- files in root are the user's -------------------------------------------------------------------


def test_roots_share_no_inode_with_the_cache_or_each_other(wandb_server, client: WandbClient,
                                                           tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    client.download("ds", tmp_path / "one")
    second = client.download("ds", tmp_path / "two")
    assert second.bytes_from_cache > 0
    assert (tmp_path / "one" / "a.txt").stat().st_nlink == 1
    (tmp_path / "one" / "a.txt").write_text("edited in root one")
    assert (tmp_path / "two" / "a.txt").read_text() == "alpha\n"
    blobs = [p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert b"alpha\n" in blobs and b"edited in root one" not in blobs
    client.download("ds", tmp_path / "three")
    assert (tmp_path / "three" / "a.txt").read_text() == "alpha\n"


def test_link_from_cache_is_an_opt_in_with_read_only_files(wandb_server, client: WandbClient,
                                                           tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    client.download("ds", tmp_path / "one", link_from_cache=True)
    client.download("ds", tmp_path / "two", link_from_cache=True)
    first, second = tmp_path / "one" / "a.txt", tmp_path / "two" / "a.txt"
    if os.geteuid() == 0:  # mode bits do not stop root: copies, so an edit reaches no other root
        assert not os.path.samefile(first, second) and first.stat().st_nlink == 1
        return
    assert os.path.samefile(first, second) and first.stat().st_nlink >= 3  # two roots and the cache
    assert stat.S_IMODE(first.stat().st_mode) & 0o222 == 0


def test_link_from_cache_as_root_never_lets_an_edit_reach_the_cache_or_another_root(
        wandb_server, client: WandbClient, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("root ignores read-only mode bits; other users are stopped by them (the test above)")
    wandb_server.seed_artifact("ds", FILES, project="p")
    client.download("ds", tmp_path / "one", link_from_cache=True)
    client.download("ds", tmp_path / "two", link_from_cache=True)
    with open(tmp_path / "one" / "a.txt", "w") as edit:  # root may write a read-only file
        edit.write("edited in root one")
    assert (tmp_path / "two" / "a.txt").read_text() == "alpha\n"
    blobs = [p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert b"alpha\n" in blobs and b"edited in root one" not in blobs
    result = client.download("ds", tmp_path / "three", link_from_cache=True)
    assert result.bytes_from_cache > 0 and (tmp_path / "three" / "a.txt").read_text() == "alpha\n"


# --- digests are always checked ---------------------------------------------------------------------


def test_verify_false_never_publishes_corrupt_bytes(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    wandb_server.set_faults([{"route": "files", "kind": "corrupt", "path": "/storage/blobs/"}])
    root = tmp_path / "out"
    with pytest.raises(ArtifactIntegrityError):
        client.download("ds", root, verify=False, cache=False)
    assert not root.exists() or user_view(root) == {}


def test_verify_false_trusts_a_present_file_of_the_right_size(wandb_server, client: WandbClient,
                                                              tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    root = tmp_path / "out"
    client.download("ds", root)
    (root / "a.txt").write_text("ALPHA\n")  # same size, other bytes
    assert client.download("ds", root, verify=False).skipped_existing == 3
    with pytest.raises(RootConflictError, match="a.txt"):  # verify=True notices, and it is the user's now
        client.download("ds", root)


# --- selections ---------------------------------------------------------------------------------


@pytest.mark.parametrize("include", ["", [""], ["*.txt", " "]])
def test_empty_patterns_are_refused(wandb_server, client: WandbClient, tmp_path: Path, include) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    wandb_server.reset_stats()
    with pytest.raises(InvalidValueError, match="empty pattern"):
        client.download("ds", tmp_path / "out", include=include)
    assert not (tmp_path / "out").exists()
    assert wandb_server.stats()["graphql"]["total"] == 0  # refused before any request


def test_include_matching_nothing_is_refused_unless_allowed(wandb_server, client: WandbClient,
                                                            tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    with pytest.raises(InvalidValueError, match=r"\['\*.parquet'\].*allow_empty=True"):
        client.download("ds", tmp_path / "out", include="*.parquet")
    assert not (tmp_path / "out").exists()
    assert client.download("ds", tmp_path / "out", include="*.parquet", allow_empty=True).files == ()


@pytest.mark.parametrize(("option", "value"), [("mode", "replace"), ("verify", "False"), ("max_workers", 0),
                                               ("remove_foreign", 1)])
def test_bad_options_are_bad_requests(wandb_server, client: WandbClient, tmp_path: Path, option, value) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    with pytest.raises(InvalidValueError, match=option):
        client.download("ds", tmp_path / "out", **{option: value})


# --- concurrency ----------------------------------------------------------------------------------


def test_two_downloads_into_one_root_serialise(wandb_server, tmp_path: Path) -> None:
    files = {f"f{i:03d}.bin": os.urandom(2048) for i in range(200)}
    wandb_server.seed_artifact("ds", files, project="p")
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                        cache_dir=str(tmp_path / f"cache{n}")).download("ds", tmp_path / "out")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert _files_only(user_view(tmp_path / "out")) == files
    assert sorted(os.listdir(tmp_path / "out" / LEDGER)) == ["ledger.json"]


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_held_lock_is_root_busy_and_a_dead_holders_lock_is_free(wandb_server, tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    root = tmp_path / "out"
    (root / LEDGER).mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root / LEDGER / "lock"), "30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        impatient = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="demo", project="p",
                                cache_dir=str(tmp_path / "cache"), deadline=1.0)
        with pytest.raises(RootBusyError, match="another download") as caught:
            impatient.download("ds", root)
        assert caught.value.transient
        assert user_view(root) == {}
    finally:
        holder.kill()
        holder.wait()
    impatient.download("ds", root)  # the holder died: its lock went with it
    assert _files_only(user_view(root)) == _bytes(FILES)


def test_a_stale_lock_file_and_staging_folder_are_taken_over(wandb_server, client: WandbClient,
                                                             tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    root = tmp_path / "out"
    (root / LEDGER / "staging-999999-dead" / "0").mkdir(parents=True)
    (root / LEDGER / "lock").write_text("")
    client.download("ds", root)
    assert sorted(os.listdir(root / LEDGER)) == ["ledger.json"]


# --- odd filesystems --------------------------------------------------------------------------------


def _mount_tmpfs(where: Path) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_a_mount_point_root_on_another_filesystem_than_the_cache(wandb_server, client: WandbClient,
                                                                 tmp_path: Path) -> None:
    root = tmp_path / "mnt"
    if not _mount_tmpfs(root):
        pytest.skip("mounting a tmpfs needs root and mount(8); the cross-filesystem copy path is untested here")
    try:
        assert os.stat(root).st_dev != os.stat(tmp_path).st_dev
        wandb_server.seed_artifact("ds", FILES, project="p")
        client.download("ds", tmp_path / "warm")  # fills the cache on the other filesystem
        result = client.download("ds", root, mode="checkout")
        assert result.bytes_from_cache > 0
        assert _files_only(user_view(root)) == _bytes(FILES)
        client.download("ds", root, link_from_cache=True)  # hard links cannot cross: copies, no EXDEV
    finally:
        subprocess.run(["umount", str(root)], check=False)


def _freeze(folder: Path) -> bool:
    """Make ``folder`` refuse new entries (chmod for users; root ignores modes, so chattr +i)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return True
    return shutil.which("chattr") is not None and subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True).returncode == 0


def _thaw(folder: Path) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o755)
    else:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_a_root_under_a_read_only_parent_works(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    root = parent / "root"
    root.mkdir(parents=True)
    if not _freeze(parent):
        pytest.skip("cannot make a folder read-only here (running as root without chattr)")
    try:
        wandb_server.seed_artifact("ds", FILES, project="p")
        client.download("ds", root, mode="checkout")
        assert _files_only(user_view(root)) == _bytes(FILES)
        assert sorted(os.listdir(parent)) == ["root"]  # nothing was staged beside the root
    finally:
        _thaw(parent)


def test_an_unwritable_root_is_a_local_file_error(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    if not _freeze(root):
        pytest.skip("cannot make a folder read-only here (running as root without chattr)")
    try:
        wandb_server.seed_artifact("ds", FILES, project="p")
        with pytest.raises(LocalFileError, match="root") as caught:
            client.download("ds", root)
        assert isinstance(caught.value, WandbError) and not isinstance(caught.value, OSError)
        assert not caught.value.transient and caught.value.path
    finally:
        _thaw(root)
    assert listing(root) == {}


def test_lock_file_is_flock_compatible(tmp_path: Path) -> None:
    """The lock is a plain flock, so other tools (and the shell's flock(1)) see it."""
    from wandb_provider.client._roots import RootSession

    root = tmp_path / "out"
    with RootSession(root, wait=1.0):
        fd = os.open(root / LEDGER / "lock", os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    assert listing(root) == {}  # nothing was placed: the session leaves no trace


# --- the ledger folder and the other entry points ------------------------------------------------


@pytest.mark.parametrize("shape", ["file", "link", "ledger-folder", "ledger-fifo"])
def test_a_ledger_folder_the_provider_did_not_make_is_a_conflict(wandb_server, client: WandbClient,
                                                                 tmp_path: Path, shape: str) -> None:
    root = tmp_path / "out"
    root.mkdir()
    if shape == "file":
        (root / LEDGER).write_text("mine")
    elif shape == "link":
        (tmp_path / "elsewhere").mkdir()
        (root / LEDGER).symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    elif shape == "ledger-folder":
        (root / LEDGER / "ledger.json").mkdir(parents=True)
    else:
        (root / LEDGER).mkdir()
        os.mkfifo(root / LEDGER / "ledger.json")
    before = listing(root)
    wandb_server.seed_artifact("ds", FILES, project="p")
    with pytest.raises(RootConflictError):
        client.download("ds", root)
    assert listing(root) == before
    if shape == "link":
        assert listing(tmp_path / "elsewhere") == {}


def test_a_damaged_ledger_makes_every_file_the_users(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    root = tmp_path / "out"
    wandb_server.seed_artifact("ds", FILES, project="p")
    client.download("ds", root)
    (root / LEDGER / "ledger.json").write_text("{not json")
    wandb_server.seed_artifact("ds", {"other.txt": "o"}, project="p")
    client.download("ds:v1", root, mode="checkout")  # a ledger exists, but it names nothing: nothing goes
    assert set(_files_only(user_view(root))) == {*FILES, "other.txt"}


def test_a_forged_ledger_cannot_reach_outside_the_root(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    import json

    (tmp_path / "victim.txt").write_text("outside")
    root = tmp_path / "out"
    wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    client.download("ds", root)
    ledger = json.loads((root / LEDGER / "ledger.json").read_text())
    record = next(iter(ledger["files"].values()))
    for rel in ("../victim.txt", "/etc/hostname", "a/../../victim.txt"):
        ledger["files"][rel] = dict(record, sig=None)
    (root / LEDGER / "ledger.json").write_text(json.dumps(ledger))
    wandb_server.seed_artifact("ds", {"b.txt": "b"}, project="p")
    client.download("ds:v1", root, mode="checkout")
    assert (tmp_path / "victim.txt").read_text() == "outside"


def test_verify_and_download_file_refuse_bad_roots_and_options(wandb_server, client: WandbClient,
                                                               tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    with pytest.raises(InvalidValueError):
        client.verify("ds", "")
    (tmp_path / "f").write_text("x")
    with pytest.raises(LocalFileError):
        client.verify("ds", tmp_path / "f")
    assert client.verify("ds", tmp_path / "missing").missing == tuple(sorted(FILES))
    with pytest.raises(InvalidValueError, match="include"):
        client.download_file("ds", "a.txt", tmp_path / "one", include="*")
    with pytest.raises(UnsafePathError):
        client.download_file("ds", "./a.txt", tmp_path / "one")
    assert not (tmp_path / "one").exists()
    path = client.download_file("ds", "data/b.csv", "relative-root")
    assert path.is_absolute() and path.read_text() == "x,y\n1,2\n"


def test_deep_trees_are_handled_without_recursion(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    root = tmp_path / "out"
    wandb_server.seed_artifact("ds", {"a.txt": "a"}, project="p")
    client.download("ds", root)
    fd = os.open(root, os.O_RDONLY)
    for _ in range(1200):  # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("f.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    wandb_server.seed_artifact("ds", {"b.txt": "b"}, project="p")
    client.download("ds:v1", root, mode="checkout", remove_foreign=True)
    assert _files_only(user_view(root)) == {"b.txt": b"b"}
    wandb_server.seed_artifact("deep", {"/".join(["d"] * 2100) + "/x": "x"}, project="p")
    with pytest.raises(UnsafePathError):
        client.download("deep", tmp_path / "other")


def test_a_folder_inside_the_root_on_another_filesystem(wandb_server, client: WandbClient, tmp_path: Path) -> None:
    root = tmp_path / "out"
    if not _mount_tmpfs(root / "data"):
        pytest.skip("mounting a tmpfs needs root and mount(8); the cross-filesystem publish path is untested here")
    try:
        wandb_server.seed_artifact("ds", FILES, project="p")
        client.download("ds", root)  # staging is on the root's filesystem, data/ on another: copied in
        assert _files_only(user_view(root)) == _bytes(FILES)
        assert client.verify("ds", root).ok
        assert [n for n in os.listdir(root / "data") if n.endswith(".tmp")] == []
    finally:
        subprocess.run(["umount", str(root / "data")], check=False)


# --- the ledger claims only what the provider placed ------------------------------------------------


def _forged_ledger(root: Path, claims: dict[str, bytes], version_key: str = "forged") -> None:
    """A ledger written by hand (or by another tool) naming the user's files with their true MD5."""
    import base64
    import hashlib
    import json

    files = {rel: {"v": version_key, "alg": "md5", "digest": base64.b64encode(hashlib.md5(data).digest()).decode(),
                   "size": len(data), "source": "x", "sig": None} for rel, data in claims.items()}
    (root / LEDGER).mkdir(parents=True, exist_ok=True)
    (root / LEDGER / "ledger.json").write_text(json.dumps(
        {"format": 1, "versions": {version_key: {"artifact": "demo/p/ds:v0", "sequence": "demo/p/ds"}},
         "files": files, "dirs": []}))


def test_a_forged_ledger_cannot_make_a_checkout_delete_the_users_file(wandb_server, client: WandbClient,
                                                                      tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    root = tmp_path / "out"
    root.mkdir()
    (root / "thesis.tex").write_bytes(b"years of work")
    _forged_ledger(root, {"thesis.tex": b"years of work"})
    client.download("ds", root, mode="checkout")
    assert (root / "thesis.tex").read_bytes() == b"years of work"
    assert _files_only(user_view(root)) == {**_bytes(FILES), "thesis.tex": b"years of work"}


def test_a_ledger_copied_from_another_root_claims_nothing_there(wandb_server, client: WandbClient,
                                                                 tmp_path: Path) -> None:
    wandb_server.seed_artifact("ds", FILES, project="p")
    wandb_server.seed_artifact("other", {"x.txt": "x"}, project="p")
    first, second = tmp_path / "first", tmp_path / "second"
    client.download("ds", first)
    second.mkdir()
    (second / "a.txt").write_text("alpha\n")  # the user's own copy, same bytes as the provider's
    shutil.copytree(first / LEDGER, second / LEDGER)  # a ledger genuinely signed, but for another root
    client.download("other", second, mode="checkout")
    assert (second / "a.txt").read_text() == "alpha\n"  # not removed: the provider never placed it here
    client.download("other", first, mode="checkout")  # in its own root the ledger is trusted
    assert not (first / "a.txt").exists() and (first / "x.txt").read_text() == "x"
