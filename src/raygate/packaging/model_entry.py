"""MLflow models-from-code entry: this file is logged with the model and run when it loads."""

from mlflow.models import set_model

from raygate.packaging.pyfunc import AgentPyfunc

set_model(AgentPyfunc())
