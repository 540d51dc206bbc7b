"""python -m protocol.maps: the mapper-sluice program."""

from protocol.maps._program import main

main()
