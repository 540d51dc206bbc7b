from taps.slack.tap import main

main()
