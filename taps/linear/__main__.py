from taps.linear.tap import main

main()
