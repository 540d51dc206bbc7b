from targets.jsonl.target import main

main()
