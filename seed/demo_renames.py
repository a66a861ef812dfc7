"""Demo: 企业更名管理 of 重庆渝北智联科技有限公司 (unit_ent, applicant_ent; district authority_yb): an
approved rename of 2019 (its former name stays in the name history, before every demo 年报) and a
request 待审核 with its proof file. The enterprise keeps its current name."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from models import Enterprise, EnterpriseName, EnterpriseRename, EnterpriseReview, RenameFile, RenameStatus, User

ORDER = 70  # after the enterprises

YB = "重庆渝北智联科技有限公司"
FORMER = "重庆渝北智联信息技术有限公司"
PENDING = "重庆渝北智联数字科技股份有限公司"
RENAMED_ON = date(2019, 12, 20)
PROOF = "demo-rename-license.pdf"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _proof_file() -> None:
    """The pending request's proof, in the upload folder of the app being seeded (if any)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    folder = Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / PROOF).exists():
        (folder / PROOF).write_bytes(PDF)


def seed_renames(ctx) -> None:
    s = ctx.session
    enterprise = s.scalar(select(Enterprise).where(Enterprise.name == YB))
    if enterprise is None or s.scalar(select(EnterpriseRename.id).where(EnterpriseRename.enterprise_id == enterprise.id)):
        return
    users = {u.username: u for u in s.scalars(select(User).where(User.username.in_(["unit_ent", "applicant_ent", "authority_yb"])))}
    unit_ent, applicant, district = users.get("unit_ent"), users.get("applicant_ent"), users.get("authority_yb")
    before = enterprise.registered_on if enterprise.registered_on and enterprise.registered_on < RENAMED_ON else None
    s.add_all([
        EnterpriseName(enterprise_id=enterprise.id, name=FORMER, valid_from=before, valid_to=date(2019, 12, 19)),
        EnterpriseName(enterprise_id=enterprise.id, name=YB, valid_from=RENAMED_ON),
    ])
    done = EnterpriseRename(enterprise_id=enterprise.id, old_name=FORMER, new_name=YB, valid_from=RENAMED_ON,
                            note="业务由信息技术服务拓展至智能制造，经市场监督管理局核准变更名称", status=RenameStatus.approved,
                            reason="材料齐全，同意变更", requested_by_id=unit_ent.id if unit_ent else None,
                            requested_at=datetime(2019, 12, 26, 9, 30), reviewed_by_id=district.id if district else None,
                            reviewed_at=datetime(2019, 12, 27, 15, 10))
    waiting = EnterpriseRename(enterprise_id=enterprise.id, old_name=YB, new_name=PENDING, valid_from=date(2025, 10, 15),
                               note="股份制改造后名称变更", status=RenameStatus.pending,
                               requested_by_id=applicant.id if applicant else None, requested_at=datetime(2025, 10, 20, 10, 5))
    s.add_all([done, waiting])
    s.flush()
    _proof_file()
    s.add(RenameFile(rename_id=waiting.id, filename="变更后营业执照.pdf", stored_name=PROOF, size=len(PDF)))
    for rename, steps in ((done, (("submit", "draft", "pending", None, unit_ent, done.requested_at),
                                  ("approve", "pending", "approved", done.reason, district, done.reviewed_at))),
                          (waiting, (("submit", "draft", "pending", None, applicant, waiting.requested_at),))):
        for action, before_state, after_state, opinion, user, at in steps:
            s.add(EnterpriseReview(target="enterprise_rename", target_id=rename.id, enterprise_id=enterprise.id,
                                   level="企业提交" if action == "submit" else "区县审核", action=action, from_status=before_state,
                                   to_status=after_state, opinion=opinion, user_id=user.id if user else None,
                                   username=user.username if user else None, at=at))


STEPS = [seed_renames]
