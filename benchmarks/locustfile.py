"""locust's side of loadgen_ceiling.py: FastHttpUser posting the same body, no think time."""

from locust import FastHttpUser, constant, task

BODY = '{"query":"What is the return window for Kitchen products?","user_id":"user-1"}'


class PredictUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def predict(self) -> None:
        self.client.post("/v1/predict", data=BODY, headers={"Content-Type": "application/json"})
