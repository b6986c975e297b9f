"""The dashboard: one page and its static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


def mount_static(app: FastAPI) -> None:
    """Serve the dashboard's scripts and styles under /static."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
