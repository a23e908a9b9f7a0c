"""tinylens.errors.listed: long lists in messages are cut, and say how much was left out."""

from pathlib import Path

from tinylens.errors import counted, lens_count, listed, ls_command, plural


def test_listed_shows_the_first_items_and_counts_the_rest():
    assert listed([]) == ""
    assert listed(["a", "b"], 2) == "a, b"
    assert listed(list("abcdefg"), 3) == "a, b, c and 4 more"
    assert listed(list("abcde"), 2, sep="; ") == "a; b; and 3 more"
    assert listed((f"lens_{i}" for i in range(7)), 6, sep="; ").endswith("lens_5; and 1 more")


def test_the_windows_path_advice_is_one_sentence_shared_by_the_yaml_hint_and_the_escaped_path_note():
    """The advice to write a Windows path in single quotes or with forward slashes was written
    twice, in the YAML error's hint and in the note on a path YAML's escapes changed."""
    from tinylens.config.loader import BACKSLASH_HINT
    from tinylens.data.fits_io import escaped_path_note
    from tinylens.errors import windows_path_advice

    assert windows_path_advice("C:\\Users\\me\\a.fits") == \
        "Put the path in single quotes ('C:\\Users\\me\\a.fits'), or write it with forward slashes (C:/Users/me/a.fits)."
    assert BACKSLASH_HINT.endswith(" " + windows_path_advice())
    assert escaped_path_note(Path("C:\temp\new.fits")).endswith(" " + windows_path_advice("C:\\temp\\new.fits"))


def test_counted_writes_the_plural_and_formats_the_number_as_asked():
    """dynesty's message on its draws of first live points made its own plural to keep the
    thousands comma ('1,000 draws'); counted now takes the number's format."""
    assert counted(1, "draw") == "1 draw" and counted(0, "draw") == "0 draws"
    assert counted(1000, "draw", ",") == "1,000 draws" and counted(1, "draw", ",") == "1 draw"


def test_plural_gives_the_noun_for_the_number_without_the_number():
    assert plural(1, "row") == "row" and plural(0, "row") == "rows" and plural(3, "population option") == \
        "population options"


def test_ls_command_quotes_each_path_for_a_shell_and_lists_a_folder_itself():
    assert ls_command(Path("/data/lens 1/out"), "/data/lens 1") == "ls -ld '/data/lens 1/out' '/data/lens 1'"
    assert ls_command("/data/it's.yaml", option="-l") == "ls -l '/data/it'\"'\"'s.yaml'"


def test_lens_count_says_lenses_with_or_without_a_kind_never_lenss():
    assert [lens_count(n) for n in (0, 1, 12)] == ["0 lenses", "1 lens", "12 lenses"]
    assert [lens_count(n, "ok") for n in (0, 1, 6)] == ["0 ok lenses", "1 ok lens", "6 ok lenses"]
    assert lens_count(3, "matched") == "3 matched lenses"


def test_a_value_cut_for_a_message_ends_cleanly_and_says_how_long_it_was():
    """A value cut for a message ended in "..." and the message's full stop came after it:
    "got 'xxx....'"; a cut could also split a backslash escape of a repr ('\\u20...'). The cut now
    ends "... (N characters)", N the value's full length, and drops an escape it would split."""
    from tinylens.errors import cut_value

    assert cut_value("'abc'", 5) == "'abc'"
    assert cut_value("x" * 30, 10) == "xxxxxxx... (30 characters)"
    assert cut_value("abcde   fghij", 9) == "abcde... (13 characters)"  # no space before the ellipsis
    zero_width = repr("a" * 10 + "\u200b" + "b" * 10)  # 'aaaaaaaaaa\u200bbbbbbbbbbb', 28 characters
    assert cut_value(zero_width, 16) == "'aaaaaaaaaa... (28 characters)"  # \u20 would be cut in half
    assert cut_value(zero_width, 20) == "'aaaaaaaaaa\\u200b... (28 characters)"
    backslash = repr("a" * 10 + "\\" + "b" * 10)  # 'aaaaaaaaaa\\bbbbbbbbbb', 24 characters
    assert cut_value(backslash, 15) == "'aaaaaaaaaa... (24 characters)"  # half of \\ dropped
    assert cut_value(backslash, 16) == "'aaaaaaaaaa\\\\... (24 characters)"  # all of \\ kept


def test_a_cut_text_value_is_said_to_be_as_long_as_the_user_wrote_it_not_as_its_quoted_repr():
    """The count after a cut was the length of the value's repr: a 300-character prior_type was
    said to be "(302 characters)" (its quotes counted) and 30 repetitions of 'a<tab>b' (90
    characters) "(122 characters)" (each tab written as the two characters of its escape). A text
    value's count is now its own length; a value of another type keeps the length of its text."""
    from tinylens.config.schema import show
    from tinylens.errors import cut_value
    from tinylens.results.stored import json_text
    from tinylens.results.truth import shown_value
    from tinylens.survey.provenance import _short

    tabs = "a\tb" * 30
    assert len(tabs) == 90 and len(repr(tabs)) == 122
    for value in ("x" * 300, tabs, "é\u200b" * 100):
        count = f"... ({len(value)} characters)"
        for shown in (show(value), json_text(value), shown_value(value), _short(value)):
            assert shown.endswith(count), (shown, len(value))
    assert cut_value(repr(tabs), 20, tabs).endswith("... (90 characters)")
    assert show(list(range(100))).endswith(f"... ({len(str(list(range(100))))} characters)")  # not text: its text's length
    assert json_text(10**400).endswith("... (401 characters)")
