from taps.jira.tap import main

main()
