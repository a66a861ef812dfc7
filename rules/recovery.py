"""密保问题 (seed 004): three questions chosen at 单位管理用户注册, answers kept only as hashes, used
by 忘记密码 to prove who is asking."""
from __future__ import annotations

import unicodedata
from typing import Iterable

from rules.passwords import hash_password, verify_password

# The questions offered on the registration form (seed 004 图 10: 问题一/二/三 ---请选择问题---).
QUESTIONS = (
    "您母亲的姓名是？",
    "您父亲的姓名是？",
    "您配偶的姓名是？",
    "您的出生地是？",
    "您小学的校名是？",
    "您高中班主任的姓名是？",
    "您最喜欢的一本书是？",
    "您单位的成立年份是？",
)
COUNT = 3
ANSWER_MAX = 50


def normalise(answer: str) -> str:
    """Answers compare without case, width (全角/半角) or spacing differences."""
    return "".join(unicodedata.normalize("NFKC", answer or "").lower().split())


def security_questions(pairs: Iterable[tuple[str, str]]) -> list[dict]:
    """What User.security_questions stores: each question with the hash of its normalised answer."""
    return [{"question": q, "answer": hash_password(normalise(a))} for q, a in pairs]


def answers_match(stored: list[dict] | None, answers: list[str]) -> bool:
    """All three answers right (in the stored order); never says which one was wrong."""
    stored = stored or []
    if len(stored) != COUNT or len(answers) != COUNT:
        return False
    results = [verify_password(item.get("answer") or "", normalise(a)) for item, a in zip(stored, answers)]
    return all(results)


def pairs_errors(pairs: list[tuple[str, str]]) -> dict[int, str]:
    """Form errors by position (0–2): a question from the list, three different ones, an answer."""
    errors: dict[int, str] = {}
    seen = set()
    for i, (question, answer) in enumerate(pairs):
        if question not in QUESTIONS:
            errors[i] = "请选择问题"
        elif question in seen:
            errors[i] = "三个问题不能重复"
        elif not normalise(answer):
            errors[i] = "请填写答案"
        elif len(answer) > ANSWER_MAX:
            errors[i] = f"答案最多 {ANSWER_MAX} 个字符"
        seen.add(question)
    return errors
