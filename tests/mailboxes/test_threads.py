"""Threading rules, on whole folders of the corpus as sync will see them."""

import random
from collections import defaultdict

import pytest

from mailboxes.mime.parsing import Headers, parse_headers
from mailboxes.sync.threads import Threader, normalize_subject, thread_keys

from .corpus import corpus_files


def thread_folder(paths) -> tuple[Threader, dict[str, str]]:
    """Thread files in the given order; return the threader and {file name: thread}."""
    threader = Threader()
    assigned = {}
    for path in paths:
        headers = parse_headers(path.read_bytes())
        assigned[path.name] = threader.add(headers)
    final = {}
    for path in paths:
        message_id = parse_headers(path.read_bytes()).message_id
        final[path.name] = threader.thread(message_id) if message_id else assigned[path.name]
    return threader, final


def groups(final: dict[str, str], prefix: str) -> list[set[str]]:
    by_thread = defaultdict(set)
    for name, thread in final.items():
        if name.startswith(prefix):
            by_thread[thread].add(name.removeprefix(prefix).removesuffix(".eml"))
    return sorted(by_thread.values(), key=sorted)


THREADING = corpus_files("threading")

# notmuch's "default" corpus threads, as its own tests list them (T050/T200: "Working with
# Maildir storage?" has 7 messages, ...). Grouped here by subject, an oracle independent of ids.
NOTMUCH_DEFAULT_THREADS = [
    {"01_2", "02_2", "cur_40_2", "foo_baz_11_2", "foo_cur_07_2"},
    {"bar_baz_23_2", "bar_baz_24_2"},
    {
        "bar_new_22_2", "cur_41_2", "foo_baz_12_2", "foo_cur_08_2", "foo_new_03_2",
        "foo_new_09_2", "new_04_2",
    },
    {"cur_31_2", "cur_34_2", "cur_35_2", "cur_36_2"},
]  # fmt: skip


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_corpus_threads_whatever_the_arrival_order(seed):
    paths = list(THREADING)
    if seed is not None:
        random.Random(seed).shuffle(paths)  # IMAP order is not date order; ghosts must cope
    threader, final = thread_folder(paths)

    lkml = groups(final, "notmuch__lkml_")
    assert len(lkml) == 1 and len(lkml[0]) == 21
    assert groups(final, "notmuch__default_") == sorted(NOTMUCH_DEFAULT_THREADS, key=sorted)
    ghost_root = groups(final, "notmuch__threading_ghost-root_")
    assert len(ghost_root) == 2  # the example.org family, and the RT ticket family
    assert {"real-root", "fake-root", "child", "grand-child", "grand-child2"} <= ghost_root[-1]
    assert len(groups(final, "notmuch__threading_parent-priority_")) == 1
    assert len(groups(final, "notmuch__broken_loop_")) == 1
    assert len(groups(final, "rubymail__rfc2822_example0")) == 1  # RFC 2822 A.3 chain


def test_lkml_subjects_differing_in_folding_whitespace_normalize_alike():
    subjects = {
        normalize_subject(parse_headers(path.read_bytes()).subject)
        for path in THREADING
        if path.name.startswith("notmuch__lkml_")
    }
    assert len(subjects) == 1


def test_rt_ticket_replies_meet_through_a_root_never_received():
    _, final = thread_folder(corpus_files("threading"))
    rt = {name: thread for name, thread in final.items() if ".len_2_S" in name}
    assert len(set(rt.values())) == 1 and len(rt) == 3


def test_duplicate_message_id_is_one_message():
    paths = [p for p in THREADING if p.name.startswith("notmuch__duplicate_msg-")]
    threader, final = thread_folder(paths)
    assert final["notmuch__duplicate_msg-1-1_2.eml"] == final["notmuch__duplicate_msg-1-2_2.eml"]
    assert final["notmuch__duplicate_msg-3-1_2.eml"] == final["notmuch__duplicate_msg-3-3_2.eml"]
    assert len(threader.seen) == 2


def test_in_reply_to_wins_over_references_for_the_parent():
    paths = sorted(p for p in THREADING if "parent-priority" in p.name)
    threader, _ = thread_folder(paths)
    # child: In-Reply-To <B00-root>, References <B00--root> (no such message).
    assert threader.parent_of["<B01-child@example.org>"] == "<B00-root@example.org>"
    # grand-child: References oldest-last (Debbugs); In-Reply-To names the real parent.
    assert threader.parent_of["<B01-grand-child@example.org>"] == "<B01-child@example.org>"


def test_in_reply_to_loop_gets_no_cycle():
    threader, final = thread_folder(sorted(p for p in THREADING if "broken_loop" in p.name))
    parents = threader.parent_of
    assert len(set(final.values())) == 1
    assert not (
        parents.get("<mid-loop-12@example.org>") == "<mid-loop-21@example.org>"
        and parents.get("<mid-loop-21@example.org>") == "<mid-loop-12@example.org>"
    )


def test_thread_keys_order_and_dedup():
    headers = Headers(
        message_id="<self@x>",
        in_reply_to="<parent@x>",
        references=("<root@x>", "<mid@x>", "<parent@x>", "<self@x>"),
    )
    assert thread_keys(headers) == ["<parent@x>", "<mid@x>", "<root@x>"]
    assert thread_keys(Headers(references=("<a@x>", "<b@x>"))) == ["<b@x>", "<a@x>"]


def test_a_reply_arriving_first_joins_its_root_later():
    threader = Threader()
    reply = threader.add(Headers(message_id="<r@x>", in_reply_to="<root@x>"))
    root = threader.add(Headers(message_id="<root@x>"))
    assert root == reply


def test_a_message_bridging_two_threads_merges_them_into_the_older():
    threader = Threader()
    first = threader.add(Headers(message_id="<a@x>"))
    second = threader.add(Headers(message_id="<b@x>"))
    bridge = threader.add(Headers(message_id="<c@x>", references=("<a@x>", "<b@x>")))
    assert bridge == first != second
    assert threader.thread("<b@x>") == first and threader.merges == [(second, first)]


def test_messages_without_ids_each_start_a_thread():
    threader = Threader()
    assert threader.add(Headers(subject="Re: Test")) != threader.add(Headers(subject="Re: Test"))


@pytest.mark.parametrize(
    "subject, key",
    [
        ("Re: Hello", "hello"),
        ("RE: re: Fwd: Hello", "hello"),
        ("AW: WG: Angebot", "angebot"),
        ("R: R: R: I: FR-selca LA selcaE", "fr-selca la selcae"),
        ("SV: VS: Hei", "hei"),
        ("Antw: TR : Réunion", "réunion"),
        ("Re[2]: Re^3: x", "x"),
        ("回复：会议", "会议"),
        ("[notmuch] Re: [PATCH 1/2] Close file", "close file"),
        ("Re: rfc: rewrite commit\n  subject line", "rfc: rewrite commit subject line"),
        ("Meeting (fwd)", "meeting"),
        ("Reply needed", "reply needed"),
        ("Iceland trip", "iceland trip"),
    ],
)
def test_normalize_subject(subject, key):
    assert normalize_subject(subject) == key
