"""Every primitive, importable by name: ``from llax.ir.prims import add, dot_general``.

Importing this package registers all primitives and their abstract-evaluation rules.
"""

from llax.ir.prims.callbacks import *  # noqa: F403
from llax.ir.prims.collectives import *  # noqa: F403
from llax.ir.prims.complex import *  # noqa: F403
from llax.ir.prims.control_flow import *  # noqa: F403
from llax.ir.prims.convolution import *  # noqa: F403
from llax.ir.prims.cumulative import *  # noqa: F403
from llax.ir.prims.custom import *  # noqa: F403
from llax.ir.prims.elementwise import *  # noqa: F403
from llax.ir.prims.fft import *  # noqa: F403
from llax.ir.prims.fusion import *  # noqa: F403
from llax.ir.prims.indexing import *  # noqa: F403
from llax.ir.prims.linalg import *  # noqa: F403
from llax.ir.prims.random import *  # noqa: F403
from llax.ir.prims.reduce import *  # noqa: F403
from llax.ir.prims.shape import *  # noqa: F403
from llax.ir.prims.sort import *  # noqa: F403
from llax.ir.prims.windows import *  # noqa: F403
