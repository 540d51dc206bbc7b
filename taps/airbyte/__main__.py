from taps.airbyte.tap import main

main()
