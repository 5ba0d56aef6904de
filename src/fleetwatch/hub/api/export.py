"""Router: export (placeholder; being built)."""

from fastapi import APIRouter

router = APIRouter()
