from taps.stripe.tap import main

main()
