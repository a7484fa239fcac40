"""Entry point: ``python -m localkube.agent --kubeconfig ... --node-name ...``."""

from localkube.agent.agent import main

if __name__ == "__main__":
    raise SystemExit(main())
