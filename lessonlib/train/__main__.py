"""``python -m lessonlib.train``: train the digits CNN, print test accuracy and time.

(``lessonlib.train`` is a package only so that this entry point runs without
Python's warning about a module imported twice.)
"""

from . import main

main()
