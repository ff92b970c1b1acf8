"""FastAPI's hello world, as its tutorial writes it (with ``async def``): the app that
``bench_cli.py`` serves with uvicorn for wrk and loads in-process with
``aiohttp-asgi-fast bench`` (``_fastapi_hello:app``)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def root() -> dict[str, str]:
    return {"message": "Hello World"}
