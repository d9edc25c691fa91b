"""Not a page: the legacy pages-directory mode of a fresh server runs this for /credit (pages/nav.py)."""

from pages.nav import enter_through_the_entry

enter_through_the_entry()
