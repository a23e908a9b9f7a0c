"""tinylens.errors.listed: long lists in messages are cut, and say how much was left out."""

from tinylens.errors import listed


def test_listed_shows_the_first_items_and_counts_the_rest():
    assert listed([]) == ""
    assert listed(["a", "b"], 2) == "a, b"
    assert listed(list("abcdefg"), 3) == "a, b, c and 4 more"
    assert listed(list("abcde"), 2, sep="; ") == "a; b; and 3 more"
    assert listed((f"lens_{i}" for i in range(7)), 6, sep="; ").endswith("lens_5; and 1 more")
