"""The ``fastapi-json`` workload's app, in its own module because FastAPI resolves the
endpoint's annotations at runtime (no ``from __future__ import annotations`` here), and so
that importing FastAPI is paid only by the processes that run it."""

from fastapi import FastAPI
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


class ItemOut(BaseModel):
    item_id: int
    q: str | None
    name: str
    total: float
    tags: list[str]


app = FastAPI()


@app.post("/items/{item_id}", response_model=ItemOut)
async def create_item(item_id: int, item: Item, q: str | None = None) -> ItemOut:
    return ItemOut(item_id=item_id, q=q, name=item.name, total=item.price * 2, tags=item.tags)
