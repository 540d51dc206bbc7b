from targets.csv.target import main

main()
