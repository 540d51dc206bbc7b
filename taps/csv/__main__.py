from taps.csv.tap import main

main()
