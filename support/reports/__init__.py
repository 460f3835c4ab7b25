"""Reports of a Golden Path run, for the three audiences the suite serves.

CI reads behave's JUnit files and the exit code; report tools and test managers read
Cucumber JSON (`cucumber`); a product reader opens one HTML page (`html`); everyone
reads the latency figures (`figures`). `formatter.GoldenPathFormatter` is the behave
formatter that writes them all at the end of a run; `results` turns behave's model into
the shared shape the writers work from.
"""
