from taps.webhook.tap import main

main()
