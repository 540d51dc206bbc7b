from taps.hubspot.tap import main

main()
