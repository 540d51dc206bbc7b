from taps.gitlab.tap import main

main()
