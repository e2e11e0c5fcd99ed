"""A project id belongs to exactly one org.

Graph nodes are keyed on ``(projectId, source, externalId)``, so two orgs using one project id
would share, and overwrite, one another's nodes. The first org to save an integration for a
project claims it in a ``(:ProjectOwner {projectId, orgId})`` node (unique on ``projectId``); every
later save and every write to the graph checks the claim.
"""

from __future__ import annotations

# Claims the project for $org if nobody has; yields ``owner`` (the org that holds it).
CLAIM = """
MERGE (owner:ProjectOwner {projectId: $project})
ON CREATE SET owner.orgId = $org, owner.claimedAt = datetime()
"""


# The owning org, if the project has been claimed (graph writes: a project never configured has no claim).
def lock(variable: str) -> str:
    """Cypher that takes ``variable``'s write lock now, so what the transaction reads next is what the
    previous holder committed. It must really write: ``REMOVE n.prop`` of a property key the database
    has never seen is a no-op that takes no lock (two replicas then both "held" a lease)."""
    return f"SET {variable}.lockTakenAt = datetime.transaction()"


def project_lock(parameter: str = "projectId") -> str:
    """Cypher that takes the project's write lock (``$<parameter>`` names the project), then goes on
    with ``WITH held``: every statement that writes a project's data takes turns on it."""
    return f"MERGE (held:ProjectWriteLock {{projectId: ${parameter}}}) {lock('held')}\nWITH held"


OWNER = "OPTIONAL MATCH (owner:ProjectOwner {projectId: $projectId}) RETURN owner.orgId AS owner"


class ProjectOfAnotherOrg(RuntimeError):
    """The project id is already claimed by another org; nothing was written."""

    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id!r} belongs to another org")
        self.project_id = project_id


def check_owner(owner: str | None, org_id: str, project_id: str) -> None:
    if owner is not None and owner != org_id:
        raise ProjectOfAnotherOrg(project_id)
