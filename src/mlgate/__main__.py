from mlgate.cli._main import entry

entry()
